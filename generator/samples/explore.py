"""`python build.py explore`: the technical exploration, generated instead of written.

The seed compared fine-tuning choices (none, one step on the passage itself,
several steps) and swept temperature and top_k by hand. This samples the
whole grid for a few passages through the fast engine, into
content/samples/explore/<essay>.json (the sample cache's format), resumable
like generate: a cell already in the cache is not sampled again. Beside the
grid, each passage gets the window-against-passage comparison: ten samples
after one step on the passage's own tokens and ten after one step on
gpt-2-simple's pasted 1024-token windows, with the same seed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from ..config import TRAIN_ON
from ..content.essays import Essay, Passage
from ..content.layout import ContentLayout
from ..errors import InputError
from .cache import Params, Run
from .store import load_cache
from .quality import flag

TEMPERATURES = (0.2, 0.5, 0.8, 1.0)
TOP_KS = (0, 30, 40, 80)
FINETUNE_STEPS = (0, 1, 5)  # no fine-tuning; one step on the passage (the piece); several steps
SAMPLES = 2
COMPARE_SAMPLES = 10  # per side of the window-against-passage comparison


def comparison(base: Params) -> list[Params]:
    """The artist's open question, at the piece's own parameters: one step on the passage's
    own tokens against one step on gpt-2-simple's pasted windows, with the same seed."""
    from .policy import derived_seed

    seed = derived_seed(base.seed, "compare")
    return [dataclasses.replace(base, finetune_steps=1, train_on=t, seed=seed) for t in TRAIN_ON]


def grid(base: Params) -> list[Params]:
    return [
        dataclasses.replace(base, finetune_steps=steps, temperature=t, top_k=k)
        for steps in FINETUNE_STEPS
        for t in TEMPERATURES
        for k in TOP_KS
    ]


def choose(essays: list[Essay], wanted: list[str], essay: str | None = None, passage: int | None = None) -> list[tuple[Essay, Passage]]:
    """Passages to explore: --essay/--passage, else site.toml's `explore`, else each essay's first passage."""
    by_slug = {e.slug: e for e in essays}
    if essay or passage:
        targets = [f"{essay or essays[0].slug}:{passage or 1}"]
    else:
        targets = wanted or [f"{e.slug}:1" for e in essays]
    out = []
    for t in targets:
        slug, _, number = t.partition(":")
        if slug not in by_slug:
            raise InputError(None, f"explore: no essay named '{slug}'")
        passages = by_slug[slug].passages
        n = int(number)
        if not 1 <= n <= len(passages):
            raise InputError(by_slug[slug].path, f"explore: essay '{slug}' has {len(passages)} passages, not {n}")
        out.append((by_slug[slug], passages[n - 1]))
    return out


@dataclass
class ExploreSummary:
    cells: int = 0
    skipped: int = 0
    seconds: float = 0.0


def run(targets: list[tuple[Essay, Passage]], layout: ContentLayout, engine, model: str, fingerprint: str, base: Params, progress: bool = True) -> ExploreSummary:
    from tqdm import tqdm

    from .engine.windows import WINDOW

    summary = ExploreSummary()
    cells = grid(base)
    compared = comparison(base) if engine.hparams.n_ctx >= WINDOW else []  # windows need a 1024-token context
    start = time.perf_counter()
    with tqdm(total=len(targets) * (len(cells) + len(compared)), desc="exploring", unit="cell", disable=not progress) as bar:
        for essay, passage in targets:
            path = layout.explore(essay.slug)
            for steps in FINETUNE_STEPS:
                entry = _entry(path, essay, passage)
                todo = []
                for params in (c for c in cells if c.finetune_steps == steps):
                    if entry and entry.find(fingerprint, engine.recipe, params):
                        summary.skipped += 1
                        bar.update(1)
                    else:
                        todo.append(params)
                if not todo:
                    continue
                if steps:
                    engine.finetune(passage.text, todo[0])  # once per fine-tuning choice, shared by its 16 cells
                else:
                    engine.reset()
                for params in todo:
                    _record(path, essay, passage, engine, model, fingerprint, params, engine.sample(passage.text, params, SAMPLES))
                    summary.cells += 1
                    bar.update(1)
            for params in compared:
                entry = _entry(path, essay, passage)
                if entry and entry.find(fingerprint, engine.recipe, params):
                    summary.skipped += 1
                else:
                    engine.finetune(passage.text, params)
                    _record(path, essay, passage, engine, model, fingerprint, params, engine.sample(passage.text, params, COMPARE_SAMPLES))
                    summary.cells += 1
                bar.update(1)
    summary.seconds = time.perf_counter() - start
    return summary


def explore(targets: list[tuple[Essay, Passage]], layout: ContentLayout, request, progress: bool = True) -> ExploreSummary:
    """`python build.py explore`: the exploration caches checked and the model found before
    TensorFlow loads, then the grid sampled on an engine that can train on windows."""
    from .engine.factory import model_at, opened

    check_caches(targets, layout)
    folder, fp = model_at(request.models_dir, request.model)
    with opened(folder, "fast", max_finetune_steps=max(FINETUNE_STEPS), window=True) as engine:
        return run(targets, layout, engine, request.model, fp, request.params, progress=progress)


def check_caches(targets: list[tuple[Essay, Passage]], layout: ContentLayout) -> None:
    """Refuse, before any model loads, an exploration cache that cannot be read whole."""
    for essay, passage in targets:
        _entry(layout.explore(essay.slug), essay, passage)


def _entry(path, essay: Essay, passage: Passage):
    """The passage's entry as it is now; a cache that cannot be read, whole or in part, stops
    the run before any sampling (and is never written)."""
    cache, warning = load_cache(path, essay.slug)
    if warning:
        raise InputError(path, f"the exploration cache is unreadable or holds malformed entries; fix or move it (nothing was changed): {warning}")
    return cache.for_passage(passage.key)


def _record(path, essay: Essay, passage: Passage, engine, model: str, fingerprint: str, params: Params, continuations: list[str]) -> None:
    from .record import record

    flags = tuple(flag(passage.text, c) for c in continuations)
    run = Run(model, fingerprint, engine.recipe, params, tuple(continuations), flags, engine.platform, engine.version, origin=engine.origin)
    record(path, essay.slug, passage, [run], position=True)
