"""From the worker's samples to what the visitor sees: the passage doubled by
auto-pick (the piece's configuration) and one untamed sample, with the
artist's blocklist applied to both. Pure: no TensorFlow, no files."""

from __future__ import annotations

from ..content.essays import Passage, count_words
from ..picks.auto import pick_passage
from ..picks.candidates import resolve_ref, run_candidates
from ..picks.store import PassagePicks, Picks
from ..samples.cache import PassageSamples, Run, SampleCache, run_from_dict
from ..samples.origin import Origin
from .visitor import Blocklist, as_essay

HIDDEN = "The model wrote something the artist chose not to show."


def _pick(passage: Passage, runs: list[Run], rejected: list, splitter: str, ratio: float) -> list[str]:
    entry = PassageSamples(passage.text, list(runs))
    cache = SampleCache("visitor", {passage.key: entry})
    picks = Picks("visitor", {passage.key: PassagePicks(passage.key, [], rejected=rejected)})
    chosen = pick_passage(as_essay(passage), cache, picks, passage.key, ratio=ratio, splitter=splitter)
    return [c.text for c in (resolve_ref(entry.run(ref.run), ref, splitter) for ref in chosen.refs) if c]


def tamed_column(passage: Passage, runs: list[Run], *, splitter: str, blocklist: Blocklist, ratio: float = 2.0) -> dict:
    """The sentences auto-pick adds to ``passage`` from ``runs`` (the request's, and its escalation's).
    When a sentence it would have chosen holds a blocked word, the pick is made again without
    any such sentence, and the column says so."""
    sentences = _pick(passage, runs, [], splitter, ratio)
    hidden = any(blocklist.found(s) for s in sentences)
    if hidden:
        blocked = [c.ref for run in runs for c in run_candidates(run, splitter) if blocklist.found(c.text)]
        sentences = _pick(passage, runs, blocked, splitter, ratio)
    return {"sentences": [with_words(t) for t in sentences], "note": HIDDEN if hidden else ""}


def with_words(text: str) -> dict:
    """A sentence for the page, with its word count by the project's one rule (the counter shows it)."""
    return {"text": text, "words": count_words(text)}


def untamed_column(sample: str, blocklist: Blocklist) -> dict:
    """One sample as it came, unless it holds a blocked word."""
    if blocklist.found(sample):
        return {"text": "", "note": HIDDEN}
    if not sample.strip():
        return {"text": "", "note": "GPT-2 ended the text at once: it wrote nothing."}
    return {"text": sample, "note": ""}


def runs_of(reported: list[dict], origin: Origin | None) -> list[Run]:
    """The runs the worker made for a visit, as ``run_as_dict`` wrote them, with their model's record."""
    return [run_from_dict(r, origin) for r in reported]
