"""What a visitor may send: up to a passage's worth of sentences (``passage_size``), 600
characters, no blocked word.

Input is split with the essays' own splitter, so a sentence means what it means for a
passage of the piece. Every refusal is a sentence meant for the
visitor, shown on the screen as it is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..content.essays import Block, Essay, Passage, normalize, passage_key
from ..content.sentences import split_sentences
from ..errors import InputError

MAX_CHARS = 600
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def folded(text: str) -> str:
    """Text as the blocklist compares it: compatibility forms folded ("ｄａｒｎ" is "darn"),
    invisible format characters (zero-width spaces, soft hyphens) dropped, case folded."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf").casefold()


class Refused(ValueError):
    """Input the station will not run, with the words to tell the visitor."""


@dataclass(frozen=True)
class Blocklist:
    """Words and phrases the artist chose never to take in or show: whole words, any case."""

    entries: tuple[str, ...] = ()

    @classmethod
    def read(cls, path: Path | None) -> Blocklist:
        if path is None:
            return cls()
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, f"the station's blocklist cannot be read ({exc})") from None
        entries = []
        for line in text.splitlines():
            entry = " ".join(folded(line.split("#", 1)[0]).split())
            if entry:
                entries.append(entry)
        return cls(tuple(entries))

    @cached_property
    def _pattern(self) -> re.Pattern | None:
        if not self.entries:
            return None
        words = "|".join(r"\s+".join(map(re.escape, e.split())) for e in sorted(self.entries, key=len, reverse=True))
        return re.compile(rf"(?<!\w)(?:{words})(?!\w)")

    def found(self, text: str) -> bool:
        return bool(self._pattern and self._pattern.search(folded(text)))


def visitor_passage(text: object, *, sentences: int, splitter: str, blocklist: Blocklist) -> Passage:
    """The visitor's words as a passage, or Refused saying why not."""
    if not isinstance(text, str) or not text.strip():
        raise Refused("Write a few sentences first, or choose one of the passages below.")
    if len(text) > MAX_CHARS:
        raise Refused(f"That is {len(text)} characters; the station takes up to {MAX_CHARS}. Try something shorter.")
    clean = normalize(_CONTROL.sub(" ", text))
    found = len(split_sentences(clean, splitter))
    if found > sentences:
        raise Refused(f"That is {found} sentences; the station takes up to {sentences}. Try fewer.")
    if blocklist.found(clean):
        raise Refused("The station would rather not take those words. Please try something else.")
    return Passage(key=passage_key(clean), index=0, paragraph=0, text=clean, html="")


def as_essay(passage: Passage) -> Essay:
    """A one-passage essay, for auto-pick (its only use of an essay: the passage and its neighbours)."""
    return Essay(slug="visitor", path=Path("visitor"), title="", author="", date=None, summary="", order=0,
                 blocks=(Block(passages=(passage,)),))


