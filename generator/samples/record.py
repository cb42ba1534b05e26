"""Recording runs into the sample cache: the one way generate, explore and the engine worker
append what the engine made, each a transaction under the file's lock (``update_samples``, on
``generator.locking``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from ..content.essays import Passage
from ..errors import InputError
from ..fsutil import atomic_write_text
from ..locking import locked
from .cache import PassageSamples, Run, SampleCache, dump_cache, load_cache
from .origin import Origin

log = logging.getLogger(__name__)
T = TypeVar("T")


def update_samples(path: Path, slug: str, change: Callable[[SampleCache], T], *, what: str = "sample cache") -> T:
    """Read the cache at ``path``, let ``change`` add to it, write it back, all under its lock.
    A cache that cannot be read, whole or in part, is never written: it may hold hours of samples."""
    with locked(path):
        cache, warning = load_cache(path, slug)
        if warning:
            raise InputError(path, f"the {what} is unreadable or holds malformed entries; fix or move it (nothing was changed): {warning}")
        before = dump_cache(cache)
        result = change(cache)
        after = dump_cache(cache)
        if after != before:
            atomic_write_text(path, after)
        return result


@dataclass(frozen=True)
class Recorded:
    entry: PassageSamples  # the passage's entry as written
    runs: list[Run]  # the runs asked for, as stored (an id may have been made unique)
    new: list[bool]  # per run: added, or found already there


def record(path: Path, slug: str, passage: Passage, runs: list[Run], *, position: bool = False) -> Recorded:
    """Append ``runs`` to the passage's entry in its essay's cache file, under the file's
    lock: the file is read afresh there, since another process may have written it.
    ``position`` keeps the passage's number in the entry (explore's caches order by it)."""
    def change(cache: SampleCache) -> Recorded:
        entry = cache.passages.setdefault(passage.key, PassageSamples(passage.text))
        entry.text = passage.text
        if position:
            entry.position = passage.index + 1
        # Each run takes the origin the cache keeps for its model (the first record stays).
        kept = [replace(r, origin=cache.record_origin(r.origin) if r.origin else cache.origin_of(r.model_fingerprint)) for r in runs]
        added = [entry.add(r) for r in kept]
        return Recorded(entry, [r for r, _ in added], [new for _, new in added])

    done = update_samples(path, slug, change)
    for r, new in zip(done.runs, done.new):
        log.debug("%s: %s run %s for passage %s (%s)", path, "recorded" if new else "found", r.id, passage.key, r.label)
    return done


def record_origin(path: Path, slug: str, origin: Origin) -> bool:
    """Give the runs already in this cache of the model ``origin`` speaks for that record, under
    the file's lock; whether the file changed. A cache with no run of that model is not written,
    and one that already keeps a record for it keeps it."""
    if not path.exists():
        return False

    def change(cache: SampleCache) -> bool:
        has = any(r.model_fingerprint == origin.fingerprint for e in cache.passages.values() for r in e.runs)
        return has and cache.origin_of(origin.fingerprint) is None and cache.record_origin(origin) is origin

    done = update_samples(path, slug, change)
    if done:
        log.info("%s: the runs of model %s now record where its weights came from (%s)", path, origin.fingerprint, origin.source)
    return done
