"""Stage 1, content: site.toml and essays -> passages."""

from .essays import Block, Essay, Passage, count_words, parse_essay, passage_key
from .sentences import split_sentences

__all__ = ["Block", "Essay", "Passage", "count_words", "parse_essay", "passage_key", "split_sentences"]
