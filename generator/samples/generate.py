"""`python build.py generate`: fill the sample cache, one passage at a time.

Each passage's runs are written to its essay's cache file atomically as soon
as they exist, so an interrupted run resumes where it stopped and the cache
is never half-written. A passage counts as done when it has a run for this
model, recipe and these parameters (the escalation's extra runs are recorded
beside it).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..config import SiteConfig
from ..content.essays import Essay, Passage
from ..errors import InputError
from .cache import Params, PassageSamples, Run, SampleCache, load_cache, run_id_for, save_cache
from .quality import flag

log = logging.getLogger(__name__)

ESCALATION = ((40, None), (80, 0.9))  # (top_k, temperature) tried in turn while samples are unusable


class Engine(Protocol):
    recipe: str

    def encode(self, text: str) -> list[int]: ...
    def check_fits(self, prompt_tokens: int, length: int) -> None: ...
    def generate(self, prompt: str, params: Params, nsamples: int): ...
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


def ladder(params: Params) -> list[Params]:
    """The parameters tried for one passage: the requested ones, then higher
    top_k (and temperature), as the artist did by hand."""
    steps = [params]
    for top_k, temperature in ESCALATION:
        if top_k > params.top_k:
            steps.append(dataclasses.replace(params, top_k=top_k, temperature=max(params.temperature, temperature or 0.0)))
    return steps


def verbosify_passage(engine: Engine, model: str, fingerprint: str, passage: Passage, request: Request, summary: Summary) -> list[Run]:
    """Runs for one passage, escalating while fewer than ``request.samples`` are usable."""
    runs: list[Run] = []
    usable = 0
    for i, params in enumerate(ladder(request.params) if request.escalate else [request.params]):
        result = engine.generate(passage.text, params, request.samples)
        flags = tuple(flag(passage.text, c) for c in result.continuations)
        runs.append(Run(model, fingerprint, engine.recipe, params, tuple(result.continuations), flags))
        summary.finetune_seconds += result.finetune_seconds
        summary.sample_seconds += result.sample_seconds
        summary.runs += 1
        usable += sum(1 for f in flags if not f)
        if i:
            summary.escalated += 1
        if usable >= request.samples:
            break
    return runs


def _load_for_update(path: Path, slug: str) -> SampleCache:
    cache, warning = load_cache(path, slug)
    if warning:  # never overwrite a cache we could not read: it may hold hours of samples
        raise InputError(path, "the sample cache is unreadable; fix or move it before generating (nothing was changed)")
    return cache


def plan(essays: list[Essay], cache_path, engine: Engine, fingerprint: str, request: Request) -> list[tuple[Essay, Passage]]:
    """The passages to generate, after checking every one fits the model's context."""
    todo = []
    base_id = "r" + run_id_for(fingerprint, engine.recipe, request.params)
    for essay in essays:
        cache = _load_for_update(cache_path(essay.slug), essay.slug)
        for passage in essay.passages:
            try:
                engine.check_fits(len(engine.encode(passage.text)), request.params.length)
            except ValueError as exc:
                raise InputError(essay.path, f"essay '{essay.slug}', passage {passage.index + 1} ({passage.key}): {exc}") from None
            entry = cache.for_passage(passage.key)
            if request.force or entry is None or entry.run(base_id) is None:
                todo.append((essay, passage))
    return todo


def run(essays: list[Essay], cache_path, engine: Engine, model: str, fingerprint: str, request: Request, progress: bool = True) -> Summary:
    from tqdm import tqdm

    summary = Summary()
    todo = plan(essays, cache_path, engine, fingerprint, request)
    summary.skipped = sum(len(e.passages) for e in essays) - len(todo)
    start = time.perf_counter()
    with tqdm(total=len(todo), desc=f"verbosifying ({engine.recipe}, {model})", unit="passage", disable=not progress) as bar:
        for essay, passage in todo:
            runs = verbosify_passage(engine, model, fingerprint, passage, request, summary)
            path = cache_path(essay.slug)
            cache = _load_for_update(path, essay.slug)  # re-read: another essay's passages may share the file
            entry = cache.passages.setdefault(passage.key, PassageSamples(passage.text))
            entry.text = passage.text
            for r in runs:
                entry.add(r)
            save_cache(path, cache)
            summary.generated += 1
            if sum(1 for r in runs for f in r.flags if not f) < request.samples:
                summary.short.append(f"{essay.slug} passage {passage.index + 1}")
            bar.update(1)
    summary.seconds = time.perf_counter() - start
    return summary


def request_from(config: SiteConfig, models_dir: Path, **overrides) -> Request:
    """The run's request: site.toml's [generation], overridden by whatever the command line gave."""
    values = {**dataclasses.asdict(config.generation), **{k: v for k, v in overrides.items() if v is not None}}
    params = Params(**{f.name: values[f.name] for f in dataclasses.fields(Params)})
    return Request(
        model=values["model"],
        models_dir=models_dir,
        recipe=values["recipe"],
        samples=values["samples"],
        params=params,
        force=bool(values.get("force", False)),
    )
