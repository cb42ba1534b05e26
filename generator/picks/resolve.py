"""Essay + sample cache + picks -> VerbosifiedEssay: what the site renders and
what ``stats`` counts (one code path, so the numbers always agree)."""

from __future__ import annotations

from dataclasses import dataclass

from ..content.essays import Essay, Passage, count_words
from ..samples.cache import Run, SampleCache
from .candidates import Candidate, resolve_ref, sentence_check
from .store import Picks


@dataclass(frozen=True)
class Insertion:
    candidate: Candidate
    run: Run

    @property
    def text(self) -> str:
        return self.candidate.text


@dataclass(frozen=True)
class StalePick:
    essay: str
    passage: str
    pick: str
    reason: str

    def __str__(self) -> str:
        return f"stale pick in essay '{self.essay}', passage {self.passage}: {self.pick} ({self.reason})"


@dataclass(frozen=True)
class VerbosifiedPassage:
    passage: Passage
    runs: tuple[Run, ...]
    insertions: tuple[Insertion, ...]

    @property
    def words_added(self) -> int:
        return sum(count_words(i.text) for i in self.insertions)


@dataclass(frozen=True)
class EssayStats:
    slug: str
    title: str
    passages: int
    passages_with_samples: int
    passages_with_picks: int
    original_words: int
    verbosified_words: int
    stale_picks: int

    @property
    def ratio(self) -> float:
        return round(self.verbosified_words / self.original_words, 3) if self.original_words else 0.0

    def as_dict(self) -> dict:
        return {
            "slug": self.slug,
            "title": self.title,
            "passages": self.passages,
            "passages_with_samples": self.passages_with_samples,
            "passages_with_picks": self.passages_with_picks,
            "original_words": self.original_words,
            "verbosified_words": self.verbosified_words,
            "ratio": self.ratio,
            "stale_picks": self.stale_picks,
        }


@dataclass(frozen=True)
class VerbosifiedEssay:
    essay: Essay
    passages: dict[str, VerbosifiedPassage]  # by passage index, as str(index)
    stale: tuple[StalePick, ...]

    def at(self, passage: Passage) -> VerbosifiedPassage:
        return self.passages[str(passage.index)]

    @property
    def stats(self) -> EssayStats:
        vps = list(self.passages.values())
        original = sum(vp.passage.words for vp in vps)
        return EssayStats(
            slug=self.essay.slug,
            title=self.essay.title,
            passages=len(vps),
            passages_with_samples=sum(1 for vp in vps if vp.runs),
            passages_with_picks=sum(1 for vp in vps if vp.insertions),
            original_words=original,
            verbosified_words=original + sum(vp.words_added for vp in vps),
            stale_picks=len(self.stale),
        )


def verbosify(essay: Essay, cache: SampleCache, picks: Picks, splitter: str = "builtin") -> VerbosifiedEssay:
    stale: list[StalePick] = []
    keys = {p.key for p in essay.passages}
    for key, entry in picks.passages.items():
        if key not in keys:
            for ref in entry.refs:
                stale.append(StalePick(essay.slug, key, str(ref), "the passage's text changed or it was removed"))
    out: dict[str, VerbosifiedPassage] = {}
    for passage in essay.passages:
        entry = cache.for_passage(passage.key)
        runs = tuple(entry.runs) if entry else ()
        insertions = []
        chosen = picks.passages.get(passage.key)
        for ref in chosen.refs if chosen else []:
            run = entry.run(ref.run) if entry else None
            candidate = resolve_ref(run, ref, splitter) if run else None
            if candidate is None:
                reason = "its run is not in the sample cache" if run is None else "no such sample or sentence in its run"
                stale.append(StalePick(essay.slug, passage.key, str(ref), reason))
                continue
            if ref.check and sentence_check(candidate.text) != ref.check:
                reason = f"the sentence there is now {candidate.text[:60]!r}, not the one picked (did the sentence splitter change?)"
                stale.append(StalePick(essay.slug, passage.key, str(ref), reason))
                continue
            insertions.append(Insertion(candidate, run))
        out[str(passage.index)] = VerbosifiedPassage(passage, runs, tuple(insertions))
    return VerbosifiedEssay(essay, out, tuple(stale))
