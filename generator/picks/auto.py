"""Auto-pick: choose generated sentences until an essay reaches a target length.

The seed's artist read 10-40 samples per passage and hand-picked sentences
until the essay doubled without changing its meaning. This does the reading:

* On topic: each candidate is scored by TF-IDF cosine similarity to its own
  passage, with IDF over the essay's passages. Plain content-word overlap
  would count "rover" (in every passage) as much as "Sojourner" (in one);
  TF-IDF lets the words that make a passage *that* passage carry the score,
  and the cosine keeps long candidates from winning by size alone.
* Not a copy: a candidate that nearly repeats any sentence of the essay, or
  one already picked, is refused (word-sequence similarity >= 0.7).
* Complete: one whole sentence by the essays' own splitter (starting with a
  capital, digit or opening quote, ending with terminal punctuation), 5 to 45 words, with
  no run of three words said twice; a cut-off sentence closed with a period
  is allowed but scores lower.
* In the essay's own words: the score is scaled by the share of the
  candidate's words that the essay itself uses (or that are function words),
  from x0.5 (none) to x1. This is the seed's reason for a low top_k, as a
  preference: a sample that invents words drifts from what the essay says.

Words are spread over passages in proportion to their length, then topped
up or trimmed globally until the ratio is as close to the target as the
candidates allow. Manual picks are kept and counted. Pure and deterministic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from ..content.essays import Essay
from ..content.sentences import split_sentences
from ..samples.cache import SampleCache
from .candidates import Candidate, resolve_ref, run_candidates, whole_sentence
from .store import PassagePicks, Picks

MIN_WORDS, MAX_WORDS = 5, 45
NEAR_COPY = 0.7
CLOSED_PENALTY = 0.85
STOP = frozenset(
    """a an the and or but if then so of to in on at by for with from as is are was were be been being it its this that
    these those they them their there here he she his her we our you your i me my not no nor can could would should will
    shall may might must do does did has have had than too very just also only into onto over under about after before
    while when where which who whom whose what why how all any each every some such more most other another one two""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOP]


SHARED = 0.4  # near_copy's first, cheap filter: the share of the two sentences' words they have in common


def near_copy(a: list[str], b: list[str]) -> bool:
    if not a or not b:
        return False
    sa, sb = set(a), set(b)
    if len(sa & sb) / len(sa | sb) < SHARED:  # cheap filter before the exact measure
        return False
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= NEAR_COPY


class NearCopies:
    """Sentences a candidate must not nearly copy, indexed by their words: ``near(a)`` is
    ``any(near_copy(a, b) for b in them)``, but compares ``a`` only with the sentences that share
    enough of its words to pass near_copy's first filter. Every pair was compared before, and a
    novel's 1,464 passages took auto-pick 135 s (``bench/novel.py``)."""

    def __init__(self, sentences=()):
        self.tokens: list[list[str]] = []
        self.sizes: list[int] = []
        self.index: dict[str, list[int]] = {}
        for s in sentences:
            self.add(s)

    def add(self, tokens) -> None:
        i, words = len(self.tokens), set(tokens)
        self.tokens.append(list(tokens))
        self.sizes.append(len(words))
        for w in words:
            self.index.setdefault(w, []).append(i)

    def near(self, tokens) -> bool:
        words = set(tokens)
        if not words:
            return False
        shared = Counter(i for w in words for i in self.index.get(w, ()))
        return any(n / (len(words) + self.sizes[i] - n) >= SHARED and near_copy(list(tokens), self.tokens[i]) for i, n in sorted(shared.items()))


class TfIdf:
    def __init__(self, documents: list[str]):
        df: Counter[str] = Counter()
        for d in documents:
            df.update(set(content_words(d)))
        n = len(documents)
        self.idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}
        self.default = math.log(1 + n) + 1

    def vector(self, text: str) -> dict[str, float]:
        tf = Counter(content_words(text))
        return {w: c * self.idf.get(w, self.default) for w, c in tf.items()}

    @staticmethod
    def cosine(a: dict[str, float], b: dict[str, float]) -> float:
        dot = sum(v * b.get(w, 0.0) for w, v in a.items())
        na = math.sqrt(sum(v * v for v in a.values()))
        nb = math.sqrt(sum(v * v for v in b.values()))
        return dot / (na * nb) if na and nb else 0.0


@dataclass(frozen=True)
class Scored:
    passage: str  # key
    candidate: Candidate
    score: float
    tokens: tuple[str, ...]

    @property
    def words(self) -> int:
        return self.candidate.words

    @property
    def order(self) -> tuple:
        return (-round(self.score, 9), self.passage, str(self.candidate.ref))


@dataclass
class PickReport:
    slug: str
    original_words: int
    verbosified_words: int
    mean_score: float
    empty_passages: list[int] = field(default_factory=list)  # 1-based passages with nothing usable

    @property
    def ratio(self) -> float:
        return self.verbosified_words / self.original_words if self.original_words else 0.0


@dataclass(frozen=True)
class Assessment:
    """What auto-pick makes of one candidate: its on-topic score and, if it would
    never pick it, why not ("empty", "copy", "loop" of the whole sample; "repeat",
    "length", "fragment", "copy", "loop" of the sentence; "off topic")."""

    candidate: Candidate
    score: float
    flags: tuple[str, ...]
    tokens: tuple[str, ...]

    @property
    def usable(self) -> bool:
        return not self.flags


def assess(essay: Essay, cache: SampleCache, splitter: str = "builtin") -> dict[str, list[Assessment]]:
    """Every candidate sentence of every run, per passage key, in the cache's order."""
    tfidf = TfIdf([p.text for p in essay.passages])
    vocabulary = STOP | {w for p in essay.passages for w in words(p.text)}
    essay_sentences = NearCopies(words(s) for p in essay.passages for s in split_sentences(p.text, splitter))
    out: dict[str, list[Assessment]] = {}
    for passage in essay.passages:
        entry = cache.for_passage(passage.key)
        target = tfidf.vector(passage.text)
        assessed = []
        seen: set[str] = set()
        for run in entry.runs if entry else []:
            for cand in run_candidates(run, splitter):
                toks = words(cand.text)
                known = sum(1 for w in toks if w in vocabulary) / len(toks) if toks else 0.0
                score = TfIdf.cosine(tfidf.vector(cand.text), target) * (0.5 + 0.5 * known) * (CLOSED_PENALTY if cand.closed else 1.0)
                assessed.append(Assessment(cand, score, _flags(cand, run.flags[cand.ref.sample], toks, score, seen, essay_sentences, splitter), tuple(toks)))
                if not run.flags[cand.ref.sample]:
                    seen.add(cand.text)
        out[passage.key] = assessed
    return out


def _flags(cand: Candidate, sample_flag: str, toks: list[str], score: float, seen: set[str], essay_sentences: NearCopies, splitter: str) -> tuple[str, ...]:
    if sample_flag:
        return (sample_flag,)
    if cand.text in seen:
        return ("repeat",)
    if not (MIN_WORDS <= cand.words <= MAX_WORDS):
        return ("length",)
    if _CONTROL.search(cand.text) or not whole_sentence(cand.text, splitter):
        return ("fragment",)
    trigrams = [tuple(toks[i : i + 3]) for i in range(len(toks) - 2)]
    if len(set(trigrams)) < len(trigrams):  # repeats itself within the sentence
        return ("loop",)
    if essay_sentences.near(toks):
        return ("copy",)
    if score <= 0:
        return ("off topic",)
    return ()


def usable_candidates(essay: Essay, cache: SampleCache, splitter: str = "builtin") -> dict[str, list[Scored]]:
    """Every acceptable candidate per passage key, best first."""
    return {
        key: sorted((Scored(key, a.candidate, a.score, a.tokens) for a in assessed if a.usable), key=lambda s: s.order)
        for key, assessed in assess(essay, cache, splitter).items()
    }


def auto_pick(essay: Essay, cache: SampleCache, picks: Picks, *, ratio: float = 2.0, force: bool = False, splitter: str = "builtin") -> tuple[Picks, PickReport]:
    """New picks for ``essay``: manual entries kept (unless ``force``), auto ones chosen afresh."""
    keys = [p.key for p in essay.passages]
    lengths = {p.key: p.words for p in essay.passages}
    original = sum(lengths.values())
    target = round(original * ratio)
    kept = {k: e for k, e in picks.passages.items() if not force and not e.auto}
    candidates = _not_rejected(usable_candidates(essay, cache, splitter), picks)

    chosen: dict[str, list[Scored]] = {k: [] for k in keys if k not in kept}
    picked_tokens = NearCopies()
    total = original
    for key, entry in kept.items():  # manual picks count, and are not repeated by auto ones
        samples = cache.for_passage(key)
        for ref in entry.refs:
            run = samples.run(ref.run) if samples else None
            cand = resolve_ref(run, ref, splitter) if run else None
            if cand and key in lengths:
                picked_tokens.add(words(cand.text))
                total += cand.words

    def fits(s: Scored) -> bool:
        return not picked_tokens.near(s.tokens)

    def take(s: Scored) -> None:
        nonlocal total
        chosen[s.passage].append(s)
        picked_tokens.add(s.tokens)
        total += s.words

    free = [k for k in keys if k in chosen]
    free_words = sum(lengths[k] for k in free) or 1
    need = max(0, target - total)
    # 1. each passage's share, in proportion to its length
    for key in free:
        quota = need * lengths[key] / free_words
        added = 0
        for s in candidates.get(key, []):
            if abs(added + s.words - quota) >= abs(added - quota):
                continue
            if fits(s):
                take(s)
                added += s.words
    # 2. top up with the best remaining candidates anywhere, while that brings us closer
    rest = sorted((s for k in free for s in candidates.get(k, []) if s not in chosen[k]), key=lambda s: s.order)
    for s in rest:
        if total >= target:
            break
        if abs(total + s.words - target) < abs(total - target) and fits(s):
            take(s)
    # 3. trim the weakest if over
    for s in sorted((s for k in free for s in chosen[k]), key=lambda s: s.order, reverse=True):
        if abs(total - s.words - target) < abs(total - target):
            chosen[s.passage].remove(s)
            total -= s.words

    result = Picks(picks.slug, dict(kept))
    scores = []
    for key in free:
        rejected = picks.passages[key].rejected if key in picks.passages else []
        if chosen[key] or rejected:
            ordered = _model_order(chosen[key])
            result.passages[key] = PassagePicks(key, [s.candidate.ref for s in ordered], auto=True, rejected=list(rejected))
            scores += [s.score for s in ordered]
    empty = [i + 1 for i, k in enumerate(keys) if not candidates.get(k)]
    report = PickReport(picks.slug, original, total, sum(scores) / len(scores) if scores else 0.0, empty)
    return result, report


def _not_rejected(candidates: dict[str, list[Scored]], picks: Picks) -> dict[str, list[Scored]]:
    """Leave out what the artist turned down (``rejected`` in the picks file)."""
    out = {}
    for key, scored in candidates.items():
        entry = picks.passages.get(key)
        no = {str(r) for r in entry.rejected} if entry else set()
        out[key] = [s for s in scored if str(s.candidate.ref) not in no]
    return out


def _model_order(chosen: list[Scored]) -> list[Scored]:
    """The model's own order within a passage: run, sample, sentence."""
    return sorted(chosen, key=lambda s: (s.candidate.ref.run, s.candidate.ref.sample, s.candidate.ref.sentence))


def pick_passage(essay: Essay, cache: SampleCache, picks: Picks, key: str, *, ratio: float = 2.0, splitter: str = "builtin") -> PassagePicks:
    """Auto-pick one passage (the studio's button): the best candidates until the passage
    is ``ratio`` times its length, none the artist rejected, none repeating a pick elsewhere."""
    passage = next(p for p in essay.passages if p.key == key)
    candidates = _not_rejected(usable_candidates(essay, cache, splitter), picks).get(key, [])
    others: list[list[str]] = []
    for other, entry in picks.passages.items():
        samples = cache.for_passage(other)
        for ref in entry.refs if other != key and samples else []:
            run = samples.run(ref.run)
            cand = resolve_ref(run, ref, splitter) if run else None
            if cand:
                others.append(words(cand.text))
    quota = passage.words * (ratio - 1)
    chosen: list[Scored] = []
    added = 0
    for s in candidates:
        if abs(added + s.words - quota) >= abs(added - quota):
            continue
        if not any(near_copy(list(s.tokens), t) for t in others):
            chosen.append(s)
            others.append(list(s.tokens))
            added += s.words
    rejected = picks.passages[key].rejected if key in picks.passages else []
    return PassagePicks(key, [s.candidate.ref for s in _model_order(chosen)], auto=True, rejected=list(rejected))
