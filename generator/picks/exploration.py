"""The exploration grid and the alternative results, from content/samples/explore/.

Cells are measured with two small figures: the distinct-word ratio (low means
the sample repeats itself, the cycles of a low temperature) and the overlap
with the passage (the share of the sample's content words the passage uses:
high means on topic, or copying). Alternative results are the unconstrained
samples (top_k 0, temperature 1.0, no fine-tuning) ranked by the auto-pick's
own TF-IDF closeness, turned around: most divergent first.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..samples.cache import Params, PassageSamples, Run, SampleCache
from ..samples.explore import FINETUNE_STEPS, TEMPERATURES, TOP_KS, TRAIN_ON
from ..samples.origin import Origin
from .auto import TfIdf, content_words, words
from .candidates import sample_sentences


@dataclass(frozen=True)
class Cell:
    params: Params
    text: str
    flag: str
    distinct: float
    overlap: float
    model: str
    origin: Origin | None = None  # the model's record (pages name the model from it)


@dataclass(frozen=True)
class Grid:
    finetune_steps: int
    rows: list[tuple[float, list[Cell | None]]]  # per temperature, one cell per top_k


@dataclass(frozen=True)
class Side:
    """One side of the window-against-passage comparison: a run and its measures."""

    train_on: str
    run: Run
    usable: float  # shares of the samples
    copy: float
    loop: float
    empty: float
    distinct: float  # means over the samples that are not empty
    overlap: float


@dataclass(frozen=True)
class ExploredPassage:
    slug: str
    position: int
    text: str
    grids: list[Grid]
    compared: list[Side]


@dataclass(frozen=True)
class Alternative:
    slug: str
    position: int
    passage: str
    text: str
    divergence: float
    run: Run


def distinct_ratio(text: str) -> float:
    w = words(text)
    return len(set(w)) / len(w) if w else 0.0


def overlap(text: str, passage: str) -> float:
    mine = content_words(text)
    theirs = set(content_words(passage))
    return sum(1 for w in mine if w in theirs) / len(mine) if mine else 0.0


def _cell(run: Run, passage: str) -> Cell:
    usable = [i for i, f in enumerate(run.flags) if not f]
    i = usable[0] if usable else 0
    text = run.samples[i] if run.samples else ""
    return Cell(run.params, text.strip(), run.flags[i] if run.flags else "", distinct_ratio(text), overlap(text, passage), run.model, run.origin)


def _side(train_on: str, run: Run, passage: str) -> Side:
    n = len(run.samples) or 1
    texts = [t for t, f in zip(run.samples, run.flags) if f != "empty"]
    return Side(
        train_on,
        run,
        usable=sum(1 for f in run.flags if not f) / n,
        copy=run.flags.count("copy") / n,
        loop=run.flags.count("loop") / n,
        empty=run.flags.count("empty") / n,
        distinct=sum(map(distinct_ratio, texts)) / len(texts) if texts else 0.0,
        overlap=sum(overlap(t, passage) for t in texts) / len(texts) if texts else 0.0,
    )


def comparison(entry: PassageSamples) -> list[Side]:
    """The window-against-passage runs of an explored passage (seeded from the grid's seed)."""
    from ..samples.policy import derived_seed

    grid_seeds = {r.params.seed for r in entry.runs if r.params.finetune_steps == 0}
    if len(grid_seeds) != 1:
        return []
    seed = derived_seed(grid_seeds.pop(), "compare")
    sides = []
    for train_on in TRAIN_ON:
        run = next((r for r in entry.runs if r.params.seed == seed and r.params.finetune_steps == 1 and r.params.train_on == train_on), None)
        if run is None:
            return []
        sides.append(_side(train_on, run, entry.text))
    return sides


def explored(caches: list[SampleCache]) -> list[ExploredPassage]:
    out = []
    for cache in sorted(caches, key=lambda c: c.slug):
        for _, entry in sorted(cache.passages.items(), key=lambda kv: (kv[1].position or 0, kv[0])):
            seeds = {r.params.seed for r in entry.runs if r.params.finetune_steps == 0}
            grid_runs = [r for r in entry.runs if r.params.seed in seeds and r.params.train_on == "passage"]
            grids = []
            for steps in FINETUNE_STEPS:
                rows = []
                for t in TEMPERATURES:
                    row: list[Cell | None] = []
                    for k in TOP_KS:
                        run = next((r for r in grid_runs if r.params.finetune_steps == steps and r.params.temperature == t and r.params.top_k == k), None)
                        row.append(_cell(run, entry.text) if run else None)
                    rows.append((t, row))
                grids.append(Grid(steps, rows))
            out.append(ExploredPassage(cache.slug, entry.position or 0, entry.text, grids, comparison(entry)))
    return out


def alternatives(caches: list[SampleCache], limit: int = 12, per_passage: int = 2) -> list[Alternative]:
    entries = [(c.slug, e) for c in caches for e in c.passages.values()]
    if not entries:
        return []
    tfidf = TfIdf([e.text for _, e in entries])
    found = []
    for slug, entry in entries:
        target = tfidf.vector(entry.text)
        for run in entry.runs:
            p = run.params
            if not (p.top_k == 0 and p.temperature == max(TEMPERATURES) and p.finetune_steps == 0):
                continue
            for i, sample in enumerate(run.samples):
                if run.flags[i] == "empty":
                    continue
                sentences = [s for s, _ in sample_sentences(sample)][:4]
                text = " ".join(sentences)
                if len(words(text)) < 8:
                    continue
                divergence = 1.0 - TfIdf.cosine(tfidf.vector(text), target)
                found.append(Alternative(slug, entry.position or 0, entry.text, text, divergence, run))
    found.sort(key=lambda a: (-round(a.divergence, 9), a.slug, a.position, a.text))
    chosen, counts = [], {}
    for a in found:
        key = (a.slug, a.position)
        if counts.get(key, 0) < per_passage:
            chosen.append(a)
            counts[key] = counts.get(key, 0) + 1
        if len(chosen) == limit:
            break
    return chosen
