"""What the studio's pages show, computed from an essay's state: plain data for the templates."""

from __future__ import annotations

from dataclasses import dataclass

from ..content.essays import count_words
from ..picks.candidates import run_candidates
from ..picks.resolve import VerbosifiedEssay
from ..samples.cache import Run
from .session import EssayState

FLAG_WORDS = {"closed": "cut off", "empty": "empty sample", "copy": "copy", "loop": "loop", "repeat": "said before",
              "length": "too short or long", "fragment": "not one sentence", "off topic": "off topic"}


@dataclass(frozen=True)
class CandidateView:
    ref: str
    text: str
    score: float
    flags: tuple[str, ...]  # in words, for the page
    state: str  # "picked", "rejected" or ""

    @property
    def pressed(self) -> str:
        return "true" if self.state == "picked" else "false"


@dataclass(frozen=True)
class RunView:
    id: str
    params: tuple[tuple[str, str], ...]
    candidates: tuple[CandidateView, ...]
    unusable: int  # samples the engine flagged


@dataclass(frozen=True)
class PassageView:
    number: int  # 1-based
    key: str
    original: str
    picks: tuple[tuple[str, str], ...]  # (ref, text) in the order the site shows them
    stale: tuple[str, ...]
    runs: tuple[RunView, ...]
    words: int
    words_now: int
    hand: bool  # the artist's entry (no auto = true)
    auto: bool
    problem: str | None = None  # why it cannot prompt the model: no More samples


@dataclass(frozen=True)
class Totals:
    original: int
    now: int
    curated: int
    passages: int
    target: float

    @property
    def ratio(self) -> float:
        return self.now / self.original if self.original else 0.0


def run_params(run: Run) -> tuple[tuple[str, str], ...]:
    p = run.params
    return (("model", run.model), ("recipe", run.recipe), ("temperature", f"{p.temperature:g}"), ("top_k", str(p.top_k)),
            ("seed", str(p.seed)), ("trained on", p.train_on), ("samples", str(len(run.samples))))


def totals(verbosified: VerbosifiedEssay, target: float) -> Totals:
    stats = verbosified.stats
    return Totals(stats.original_words, stats.verbosified_words, stats.passages_with_picks, stats.passages, target)


def passage_view(s: EssayState, verbosified: VerbosifiedEssay, key: str, splitter: str) -> PassageView:
    passage = s.passage(key)
    vp = verbosified.at(passage)
    entry = s.picks.passages.get(key) if s.picks else None
    picked = {str(r) for r in entry.refs} if entry else set()
    rejected = {str(r) for r in entry.rejected} if entry else set()
    assessed = s.assessed.get(key, {})
    runs = []
    for run in vp.runs:
        cands = []
        for c in run_candidates(run, splitter):
            name = str(c.ref)
            a = assessed.get(name)
            flags = tuple(FLAG_WORDS.get(f, f) for f in ((("closed",) if c.closed else ()) + (a.flags if a else ())))
            state = "picked" if name in picked else "rejected" if name in rejected else ""
            cands.append(CandidateView(name, c.text, round(a.score, 2) if a else 0.0, flags, state))
        runs.append(RunView(run.id, run_params(run), tuple(cands), sum(1 for f in run.flags if f)))
    stale = tuple(p.pick for p in verbosified.stale if p.passage == key)
    return PassageView(
        number=passage.index + 1,
        key=key,
        original=passage.text,
        picks=tuple((str(i.candidate.ref), i.text) for i in vp.insertions),
        stale=stale,
        runs=tuple(runs),
        words=passage.words,
        words_now=passage.words + sum(count_words(i.text) for i in vp.insertions),
        hand=bool(entry and not entry.auto),
        auto=bool(entry and entry.auto),
        problem=passage.problem,
    )
