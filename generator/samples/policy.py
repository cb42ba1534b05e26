"""The escalation policy: what a passage still needs, and what "more samples" asks for next.

When samples come back unusable, the artist raised top_k (and the
temperature) by hand; ``ladder`` does the same, each rung with a seed of its
own. A passage is done when it holds enough usable samples for the requested
parameters (its rungs count), or when that many were drawn and every rung was
tried. Runs are found by their parameters, whatever their sample count.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass

from .cache import Params, PassageSamples, Run
from .request import Request

ESCALATION = ((40, None), (80, 0.9))  # (top_k, temperature) tried in turn while samples are unusable


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
