"""Stage 1, content: site.toml and essays -> passages."""

from pathlib import Path

from .essays import Block, Essay, Passage, count_words, parse_essay, passage_key
from .sentences import split_sentences

__all__ = ["read_essays", "Block", "Essay", "Passage", "count_words", "parse_essay", "passage_key", "split_sentences"]


def read_essays(content: Path, *, passage_size: int = 3, splitter: str = "builtin", only: list[str] | None = None) -> list[Essay]:
    """Parse content/essays/*.md (or just the slugs in ``only``, each of which must exist)."""
    from ..errors import InputError

    folder = Path(content) / "essays"
    paths = sorted(folder.glob("*.md"))
    if only:
        known = {p.stem: p for p in paths}
        missing = [s for s in only if s not in known]
        if missing:
            raise InputError(folder, f"no essay named {', '.join(missing)} (there are: {', '.join(known) or 'none'})")
        paths = [known[s] for s in only]
    if not paths:
        raise InputError(folder, "no essays found (expected *.md files)")
    return [parse_essay(p, passage_size=passage_size, splitter=splitter) for p in paths]
