"""`python build.py generate`: fill the sample cache, one passage at a time.

Each passage's runs are written to its essay's cache file atomically as soon
as they exist, so an interrupted run resumes where it stopped and the cache
is never half-written. A passage counts as done when it holds ``--samples``
usable samples for this model, recipe and these parameters (its escalation
runs count), or when that many were drawn and every rung of the escalation
was tried; ``--samples 20`` after a 10-sample run draws 10 more, with a
seed of their own.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..content.essays import Essay, Passage
from ..errors import InputError
from .cache import Params, PassageSamples, Run, SampleCache
from .store import load_cache, load_passage
from .engine.common import Engine, Generation, PromptTooLong
from .engine.factory import ModelView
from .policy import ladder, more, passage_progress
from .quality import flag
from .origin import Origin
from .record import record, record_origin
from .request import Request

log = logging.getLogger(__name__)


@dataclass
class Summary:
    generated: int = 0
    skipped: int = 0
    runs: int = 0
    finetune_seconds: float = 0.0
    sample_seconds: float = 0.0
    seconds: float = 0.0
    escalated: int = 0
    short: list[str] = field(default_factory=list)  # passages still without enough usable samples

    @property
    def seconds_per_passage(self) -> float:
        return self.seconds / self.generated if self.generated else 0.0


def verbosify_passage(engine: Engine, model: str, fingerprint: str, passage: Passage, request: Request, summary: Summary, entry: PassageSamples | None = None) -> list[Run]:
    """The runs this passage still needs: the requested parameters (or another batch of
    them, when more samples are asked for), then the escalation while too few are usable."""
    state = passage_progress(None if request.force else entry, engine.recipe, fingerprint, request)
    rungs = ladder(request.params) if request.escalate else []
    new: list[Run] = []

    def run(params: Params, nsamples: int, escalated: bool) -> Run:
        r, result = new_run(engine, model, fingerprint, passage.text, params, nsamples)
        summary.finetune_seconds += result.finetune_seconds
        summary.sample_seconds += result.sample_seconds
        summary.runs += 1
        summary.escalated += escalated
        new.append(r)
        return r

    if state.drawn < request.samples:
        params = request.params if not state.base else more(request.params, len({r.params.seed for r in state.base}))
        state.base.append(run(params, request.samples - state.drawn, False))
    for params in rungs[len(state.rungs) :]:
        if state.usable >= request.samples:
            break
        state.rungs.append(run(params, request.samples, True))
    return new


def new_run(engine: Engine, model: str, fingerprint: str, prompt: str, params: Params, nsamples: int) -> tuple[Run, Generation]:
    """One engine call for one passage, its samples flagged: what generate and the studio record."""
    result = engine.generate(prompt, params, nsamples)
    flags = tuple(flag(prompt, c) for c in result.continuations)
    return Run(model, fingerprint, engine.recipe, params, tuple(result.continuations), flags, engine.platform, engine.version, origin=engine.origin), result


def _load_for_update(path: Path, slug: str) -> SampleCache:
    cache, warning = load_cache(path, slug)
    if warning:  # never overwrite a cache we could not read: it may hold hours of samples
        raise InputError(None, f"fix or move what cannot be read before generating (nothing was changed): {warning}")
    return cache


def cannot_prompt(essays: list[Essay], engine: Engine | ModelView, length: int) -> dict[tuple[str, int], str]:
    """The passages that cannot prompt the model, (essay, passage index) -> why: those the essay
    parser could not merge (nothing but punctuation, one word) and those of fewer than
    two tokens. Generate skips them and does the rest. A passage too long for the
    context is the essay's to fix (split it): that stops generate before it starts."""
    out = {}
    for essay in essays:
        for passage in essay.passages:
            why = passage.problem
            if why is None:
                try:
                    engine.check_fits(len(engine.encode(passage.text)), length)
                except PromptTooLong as exc:
                    if exc.prompt_tokens >= 2:
                        raise InputError(essay.path, f"essay '{essay.slug}', passage {passage.index + 1} ({passage.key}): {exc}") from None
                    why = "fewer than 2 tokens, too short to prompt the model"
            if why:
                out[(essay.slug, passage.index)] = why
    return out


def plan(essays: list[Essay], cache_path, engine: Engine | ModelView, fingerprint: str, request: Request) -> list[tuple[Essay, Passage]]:
    """The passages to generate, after checking every one fits the model's context;
    each that cannot prompt it is named in a warning and left out."""
    todo = []
    rungs = len(ladder(request.params)) if request.escalate else 0
    skip = cannot_prompt(essays, engine, request.params.length)
    for essay in essays:
        cache = _load_for_update(cache_path(essay.slug), essay.slug)
        for passage in essay.passages:
            if (essay.slug, passage.index) in skip:
                log.warning("essay '%s', passage %d (%s) is skipped: %s", essay.slug, passage.index + 1, passage.key, skip[(essay.slug, passage.index)])
                continue
            if request.force or not passage_progress(cache.for_passage(passage.key), engine.recipe, fingerprint, request).done(rungs):
                todo.append((essay, passage))
    return todo


def record_origins(essays: list[Essay], cache_path, origin: Origin | None) -> int:
    """Give the runs this model made before it recorded its origin that record (each essay's
    cache in its own locked transaction); how many caches changed. Generate does this first, so
    a model given a record later names its earlier samples too."""
    if origin is None:
        return 0
    return sum(record_origin(cache_path(e.slug), e.slug, origin) for e in essays)


def record_passage(path: Path, essay: Essay, passage: Passage, runs: list[Run], recipe: str, fingerprint: str, request: Request, summary: Summary) -> None:
    """Append a passage's new runs to its essay's store, and count it (one process's loop, or the
    Ray driver's as results arrive)."""
    entry = record(path, essay.slug, passage, runs).entry
    summary.generated += 1
    if passage_progress(entry, recipe, fingerprint, request).usable < request.samples:
        summary.short.append(f"{essay.slug} passage {passage.index + 1}")


def run(essays: list[Essay], cache_path, engine: Engine, model: str, fingerprint: str, request: Request, progress: bool = True, todo: list | None = None) -> Summary:
    """Generate ``todo`` (default: what ``plan`` finds)."""
    from tqdm import tqdm

    summary = Summary()
    if todo is None:
        todo = plan(essays, cache_path, engine, fingerprint, request)
    # what plan() left out, less those that cannot prompt the model (the parser's rule: two GPT-2 pieces
    # are two tokens, so no passage it keeps is shorter; encoding every passage again is not needed)
    summary.skipped = sum(1 for e in essays for p in e.passages if not p.problem) - len(todo)
    start = time.perf_counter()
    with tqdm(total=len(todo), desc=f"verbosifying ({engine.recipe}, {model})", unit="passage", disable=not progress) as bar:
        for essay, passage in todo:
            path = cache_path(essay.slug)
            runs = verbosify_passage(engine, model, fingerprint, passage, request, summary, load_passage(path, essay.slug, passage.key))
            record_passage(path, essay, passage, runs, engine.recipe, fingerprint, request, summary)
            bar.update(1)
    summary.seconds = time.perf_counter() - start
    return summary


def prepare(essays: list[Essay], cache_path, request: Request, explore_path=None) -> tuple[Path, str, list[tuple[Essay, Passage]]]:
    """What every generate does before an engine loads: check the model, give its earlier runs
    its origin record, and decide the work without TensorFlow: (its folder, its fingerprint,
    the passages to make)."""
    from .engine.factory import model_at, model_view
    from .origin import of_folder

    folder, fp = model_at(request.models_dir, request.model)
    origin = of_folder(folder)
    record_origins(essays, cache_path, origin)
    if explore_path is not None:  # the exploration's caches: its pages name the model too
        record_origins(essays, explore_path, origin)
    return folder, fp, plan(essays, cache_path, model_view(folder, request), fp, request)


def engine_options(request: Request) -> dict:
    """``factory.open_engine``'s options for this request."""
    return {"max_finetune_steps": request.params.finetune_steps, "window": request.params.train_on == "window",
            "samples": request.samples, "length": request.params.length}


def generate(essays: list[Essay], cache_path, request: Request, progress: bool = True, explore_path=None, threads: int | None = None) -> Summary | None:
    """`python build.py generate`: ``prepare``, and only then load the engine and run it (None:
    nothing was left to do). ``threads``: the engine's, when fewer than the CPUs (``--threads``)."""
    from ..platform import THREADS_ENV
    from .engine.factory import opened

    if threads:
        os.environ[THREADS_ENV] = str(threads)  # read when the engine's session is made

    folder, fp, todo = prepare(essays, cache_path, request, explore_path)
    if not todo:
        return None
    log.info("loading %s (%s recipe) for %d passage(s) ...", folder, request.recipe, len(todo))
    with opened(folder, request.recipe, **engine_options(request)) as engine:
        return run(essays, cache_path, engine, request.model, fp, request, progress=progress, todo=todo)
