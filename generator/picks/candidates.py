"""Samples -> candidate sentences, each with a stable reference.

The seed's one allowed edit is kept and no other: a cut-off last sentence
that is long enough to stand is closed with a period (and marked so);
a shorter one is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..content.essays import count_words
from ..content.sentences import count_sentences, split_sentences
from ..fsutil import digest
from ..samples.cache import Run

MIN_CLOSABLE_WORDS = 6
_ENDED = re.compile(r"""[.!?…]["'”’)\]]*$""")
_ENDS_IN_WORD = re.compile(r"\w$")
_STARTS_WELL = re.compile(r"""^["'“‘]?[A-Z0-9]""")


def sentence_check(text: str) -> str:
    """A short hash of a picked sentence's text, stored with the pick."""
    return digest(text, 6)


@dataclass(frozen=True)
class PickRef:
    """Points at one sentence of one sample of one run: "RUN:SAMPLE:SENTENCE", stored in
    picks files as "RUN:SAMPLE:SENTENCE@CHECK" where CHECK hashes the sentence's text: the
    index means whatever the splitter makes of the sample today, so a splitter that
    changed would silently point it at another sentence; the check makes that a stale pick."""

    run: str
    sample: int
    sentence: int
    check: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.run}:{self.sample}:{self.sentence}"

    @classmethod
    def parse(cls, text: str) -> PickRef:
        ref, sep, check = text.strip().partition("@")
        parts = ref.split(":")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit() or (sep and not re.fullmatch(r"[0-9a-f]{6}", check)):
            raise ValueError(f"pick {text!r} is not RUN:SAMPLE:SENTENCE (optionally @CHECK, six hex digits)")
        return cls(parts[0], int(parts[1]), int(parts[2]), check)


@dataclass(frozen=True)
class Candidate:
    ref: PickRef
    text: str
    closed: bool = False  # a cut-off sentence we ended with a period

    @property
    def words(self) -> int:
        return count_words(self.text)


def whole_sentence(text: str, splitter: str = "builtin") -> bool:
    """What the method inserts: one sentence by the essays' own splitter, starting
    with a capital, a digit or an opening quote, ending with terminal punctuation.
    ("...by hand. about three Earth months." is two, glued.)"""
    return bool(_STARTS_WELL.match(text) and _ENDED.search(text)) and count_sentences(text, splitter) == 1


def sample_sentences(sample: str, splitter: str = "builtin") -> list[tuple[str, bool]]:
    """A sample's sentences as (text, closed). Nothing but the period is ever added."""
    sentences = split_sentences(sample, splitter)
    if sentences and not _ENDED.search(sentences[-1]):
        last = sentences.pop()
        if count_words(last) >= MIN_CLOSABLE_WORDS and _ENDS_IN_WORD.search(last):
            sentences.append(last + ".")
            return [(s, False) for s in sentences[:-1]] + [(sentences[-1], True)]
    return [(s, False) for s in sentences]


def run_candidates(run: Run, splitter: str = "builtin") -> list[Candidate]:
    out = []
    for i, sample in enumerate(run.samples):
        for j, (text, closed) in enumerate(sample_sentences(sample, splitter)):
            out.append(Candidate(PickRef(run.id, i, j), text, closed))
    return out


def resolve_ref(run: Run, ref: PickRef, splitter: str = "builtin") -> Candidate | None:
    if ref.sample >= len(run.samples):
        return None
    sentences = sample_sentences(run.samples[ref.sample], splitter)
    if ref.sentence >= len(sentences):
        return None
    text, closed = sentences[ref.sentence]
    return Candidate(ref, text, closed)
