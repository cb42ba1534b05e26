"""Stage 1, content: site.toml and essays -> passages."""

from __future__ import annotations

from .essays import Block, Essay, EssayHeader, Passage, count_words, parse_essay, passage_key
from .layout import ContentLayout
from .sentences import split_sentences

__all__ = ["read_essays", "Block", "ContentLayout", "Essay", "EssayHeader", "Passage", "count_words", "parse_essay", "passage_key", "split_sentences"]


def read_essays(layout: ContentLayout, *, passage_size: int = 3, splitter: str = "builtin", only: list[str] | None = None, drafts: bool = True) -> list[Essay]:
    """Parse the essays ``layout`` lists (drafts included unless ``drafts`` is false)."""
    return [parse_essay(h.path, passage_size=passage_size, splitter=splitter) for h in layout.essays(drafts=drafts, only=only)]
