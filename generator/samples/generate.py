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

import dataclasses
import logging
import time
import zlib
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..config import SiteConfig
from ..content.essays import Essay, Passage
from ..errors import InputError
from ..platform import Platform
from .cache import Params, PassageSamples, Run, SampleCache, load_cache
from .engine.common import Generation, PromptTooLong
from .quality import flag

log = logging.getLogger(__name__)

ESCALATION = ((40, None), (80, 0.9))  # (top_k, temperature) tried in turn while samples are unusable


class Engine(Protocol):
    """What generate and explore need of a recipe (fast and seed both provide it)."""

    recipe: str
    platform: Platform  # what its runs are made on

    def encode(self, text: str) -> list[int]: ...
    def check_fits(self, prompt_tokens: int, length: int) -> None: ...
    def reset(self) -> None: ...  # back to the base weights
    def finetune(self, prompt: str, params: Params) -> None: ...  # fresh base weights, then params.finetune_steps steps
    def sample(self, prompt: str, params: Params, nsamples: int) -> list[str]: ...  # with the weights as they are
    def generate(self, prompt: str, params: Params, nsamples: int): ...  # finetune (or reset), then sample, timed
    def close(self) -> None: ...


@dataclass(frozen=True)
class Request:
    model: str
    models_dir: Path
    recipe: str
    samples: int
    params: Params
    force: bool = False
    escalate: bool = True


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


def derived_seed(seed: int, *parts: object) -> int:
    """A new seed for an extra run, so it does not repeat the first run's random draws."""
    return zlib.crc32(":".join(map(str, (seed, *parts))).encode()) & 0x7FFFFFFF


def ladder(params: Params) -> list[Params]:
    """The escalation: higher top_k (and temperature) while samples are unusable, as
    the artist did by hand, each rung with a seed of its own. None from top_k 0:
    that already samples from every token, and 40 or 80 would narrow it."""
    if params.top_k == 0:
        return []
    return [
        dataclasses.replace(params, top_k=top_k, temperature=max(params.temperature, temperature or 0.0), seed=derived_seed(params.seed, "rung", top_k))
        for top_k, temperature in ESCALATION
        if top_k > params.top_k
    ]


def more(params: Params, batch: int) -> Params:
    """Batch ``batch`` (1, 2, ...) of extra samples at the requested parameters (a larger --samples)."""
    return dataclasses.replace(params, seed=derived_seed(params.seed, "more", batch))


def next_params(entry: PassageSamples | None, engine_recipe: str, fingerprint: str, params: Params) -> Params:
    """What "more samples" asks for next: the first of ``params`` and its escalation
    ladder not yet in the cache, then further batches of the last rung, each with a seed of its own."""
    def missing(p: Params) -> bool:
        return not (entry and entry.find(fingerprint, engine_recipe, p))

    steps = [params, *ladder(params)]
    for p in steps:
        if missing(p):
            return p
    batch = 1
    while not missing(more(steps[-1], batch)):
        batch += 1
    return more(steps[-1], batch)


@dataclass
class Progress:
    """Where one passage stands for one request."""

    base: list[Run]  # runs at the requested parameters (the first and any extra batches)
    rungs: list[Run]  # escalation runs
    samples: int

    @property
    def drawn(self) -> int:
        return sum(len(r.samples) for r in self.base)

    @property
    def usable(self) -> int:
        return sum(1 for r in self.base + self.rungs for f in r.flags if not f)

    def done(self, rungs: int) -> bool:
        """Enough usable samples; or enough drawn and every rung tried."""
        return self.drawn >= self.samples and (self.usable >= self.samples or len(self.rungs) >= rungs)


def passage_progress(entry: PassageSamples | None, engine_recipe: str, fingerprint: str, request: Request) -> Progress:
    def find(params: Params) -> list[Run]:
        return entry.find(fingerprint, engine_recipe, params) if entry else []

    base = find(request.params)
    if base:
        batch = 1
        while found := find(more(request.params, batch)):
            base += found
            batch += 1
    rungs = [found[0] for found in map(find, ladder(request.params) if request.escalate else []) if found]
    return Progress(base, rungs, request.samples)


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
    return Run(model, fingerprint, engine.recipe, params, tuple(result.continuations), flags, engine.platform), result


@dataclass(frozen=True)
class Recorded:
    entry: PassageSamples  # the passage's entry as written
    runs: list[Run]  # the runs asked for, as stored (an id may have been made unique)
    new: list[bool]  # per run: added, or found already there


def record(path: Path, slug: str, passage: Passage, runs: list[Run], *, position: bool = False) -> Recorded:
    """Append ``runs`` to the passage's entry in its essay's cache file, under the file's
    lock: the file is read afresh there, since another process may have written it.
    ``position`` keeps the passage's number in the entry (explore's caches order by it)."""
    from ..transactions import update_samples

    def change(cache: SampleCache) -> Recorded:
        entry = cache.passages.setdefault(passage.key, PassageSamples(passage.text))
        entry.text = passage.text
        if position:
            entry.position = passage.index + 1
        added = [entry.add(r) for r in runs]
        return Recorded(entry, [r for r, _ in added], [new for _, new in added])

    done = update_samples(path, slug, change)
    for r, new in zip(done.runs, done.new):
        log.debug("%s: %s run %s for passage %s (%s)", path, "recorded" if new else "found", r.id, passage.key, r.label)
    return done


def _load_for_update(path: Path, slug: str) -> SampleCache:
    cache, warning = load_cache(path, slug)
    if warning:  # never overwrite a cache we could not read: it may hold hours of samples
        raise InputError(path, "the sample cache is unreadable; fix or move it before generating (nothing was changed)")
    return cache


@dataclass(frozen=True)
class ModelView:
    """What deciding the work needs of a model, without loading it (or TensorFlow):
    its recipe, its tokenizer and how many tokens its context holds."""

    recipe: str
    encode: Callable[[str], list[int]]
    context: int

    def check_fits(self, prompt_tokens: int, length: int) -> None:
        if prompt_tokens < 2 or prompt_tokens + length > self.context:
            raise PromptTooLong(prompt_tokens, length, self.context)


def top_k_problem(top_k: int, n_vocab: int) -> str | None:
    """Why ``top_k`` cannot be asked of a model with ``n_vocab`` tokens (TensorFlow's
    top_k would fail deep inside the sampler), or None."""
    return f"{top_k} is more than the model's {n_vocab} tokens (0 means no limit)" if top_k > n_vocab else None


def model_view(folder: Path, request: Request) -> ModelView:
    """The model's tokenizer and context, read from its folder without TensorFlow."""
    from .engine.checkpoint import Hparams
    from .engine.encoding import get_encoder
    from .engine.windows import WINDOW

    hp = Hparams.read(folder)
    problem = top_k_problem(request.params.top_k, hp.n_vocab)
    if problem:
        raise InputError(folder / "hparams.json", f"top_k {problem}")
    if request.params.train_on == "window" and hp.n_ctx < WINDOW:
        raise InputError(folder / "hparams.json", f"train_on = window trains on {WINDOW}-token windows; this model's context holds {hp.n_ctx}")
    context = hp.n_ctx if request.recipe == "fast" else min(hp.n_ctx, WINDOW - 1)  # the seed recipe's window holds 1023
    return ModelView(request.recipe, get_encoder(folder).encode, context)


def open_engine(folder: Path, recipe: str, *, max_finetune_steps: int = 1, window: bool = False) -> Engine:
    """Load the model into the recipe's engine (this imports TensorFlow)."""
    if recipe == "seed":
        from .engine.seed import SeedEngine

        return SeedEngine(folder)
    from .engine.fast import FastEngine

    return FastEngine(folder, max_finetune_steps=max(1, max_finetune_steps), window=window)


def plan(essays: list[Essay], cache_path, engine: Engine | ModelView, fingerprint: str, request: Request) -> list[tuple[Essay, Passage]]:
    """The passages to generate, after checking every one fits the model's context."""
    todo = []
    rungs = len(ladder(request.params)) if request.escalate else 0
    for essay in essays:
        cache = _load_for_update(cache_path(essay.slug), essay.slug)
        for passage in essay.passages:
            try:
                engine.check_fits(len(engine.encode(passage.text)), request.params.length)
            except ValueError as exc:
                raise InputError(essay.path, f"essay '{essay.slug}', passage {passage.index + 1} ({passage.key}): {exc}") from None
            if request.force or not passage_progress(cache.for_passage(passage.key), engine.recipe, fingerprint, request).done(rungs):
                todo.append((essay, passage))
    return todo


def run(essays: list[Essay], cache_path, engine: Engine, model: str, fingerprint: str, request: Request, progress: bool = True, todo: list | None = None) -> Summary:
    """Generate ``todo`` (default: what ``plan`` finds)."""
    from tqdm import tqdm

    summary = Summary()
    if todo is None:
        todo = plan(essays, cache_path, engine, fingerprint, request)
    summary.skipped = sum(len(e.passages) for e in essays) - len(todo)
    start = time.perf_counter()
    with tqdm(total=len(todo), desc=f"verbosifying ({engine.recipe}, {model})", unit="passage", disable=not progress) as bar:
        for essay, passage in todo:
            path = cache_path(essay.slug)
            runs = verbosify_passage(engine, model, fingerprint, passage, request, summary, _load_for_update(path, essay.slug).for_passage(passage.key))
            entry = record(path, essay.slug, passage, runs).entry
            summary.generated += 1
            if passage_progress(entry, engine.recipe, fingerprint, request).usable < request.samples:
                summary.short.append(f"{essay.slug} passage {passage.index + 1}")
            bar.update(1)
    summary.seconds = time.perf_counter() - start
    return summary


def request_from(config: SiteConfig, models_dir: Path, **overrides) -> Request:
    """The run's request: site.toml's [generation], overridden by whatever the command line gave.
    The seed recipe is gpt-2-simple's own finetune(), so it always trains on the windows."""
    from ..config import generation_problem

    given = {k: v for k, v in overrides.items() if v is not None}
    problem = generation_problem(given)
    if problem:
        raise InputError(None, f"--{problem[0].replace('_', '-')} {problem[1]}")
    values = {**dataclasses.asdict(config.generation), **given}
    if values["recipe"] == "seed":
        if given.get("train_on") == "passage":
            raise InputError(None, "--train-on passage: the seed recipe is gpt-2-simple's own finetune(), which trains on the 1024-token windows")
        values["train_on"] = "window"
    params = Params(**{f.name: values[f.name] for f in dataclasses.fields(Params)})
    return Request(
        model=values["model"],
        models_dir=models_dir,
        recipe=values["recipe"],
        samples=values["samples"],
        params=params,
        force=bool(values.get("force", False)),
    )
