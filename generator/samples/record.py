"""Recording runs into the samples: the one way generate, explore and the engine worker append
what the engine made, each a transaction under the store's lock. An essay's store is a folder,
and a write there touches its own passage's file (``store.update_passage``); an exploration's
cache is one file, read and written whole (``update_samples``)."""

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
from . import store
from .cache import PassageSamples, Run, SampleCache, dump_cache, load_file
from .origin import Origin

log = logging.getLogger(__name__)
T = TypeVar("T")


def update_samples(path: Path, slug: str, change: Callable[[SampleCache], T], *, what: str = "sample cache") -> T:
    """Read the one-file cache at ``path``, let ``change`` add to it, write it back, all under its
    lock. A cache that cannot be read, whole or in part, is never written: it may hold hours of samples."""
    with locked(path):
        cache, warning = load_file(path, slug)
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


def _add(entry: PassageSamples, passage: Passage, runs: list[Run], position: bool, kept_origin) -> Recorded:
    entry.text = passage.text
    if position:
        entry.position = passage.index + 1
    # Each run takes the origin the store keeps for its model (the first record stays).
    kept = [replace(r, origin=kept_origin(r)) for r in runs]
    added = [entry.add(r) for r in kept]
    return Recorded(entry, [r for r, _ in added], [new for _, new in added])


def record(path: Path, slug: str, passage: Passage, runs: list[Run], *, position: bool = False) -> Recorded:
    """Append ``runs`` to the passage's entry, under the store's lock: the entry is read afresh
    there, since another process may have written it. ``path``: an essay's store
    (``ContentLayout.samples``) or a one-file cache. ``position`` keeps the passage's number in
    the entry (explore's caches order by it)."""
    if store.is_store(path):
        def change_passage(seen: store.PassageChange) -> Recorded:
            def kept_origin(r: Run):
                if r.origin and r.model_fingerprint not in seen.origins:
                    seen.origins[r.model_fingerprint] = r.origin
                return seen.origins.get(r.model_fingerprint)

            return _add(seen.entry, passage, runs, position, kept_origin)

        done = store.update_passage(path, slug, passage.key, passage.text, change_passage)
    else:
        def change(cache: SampleCache) -> Recorded:
            entry = cache.passages.setdefault(passage.key, PassageSamples(passage.text))
            return _add(entry, passage, runs, position, lambda r: cache.record_origin(r.origin) if r.origin else cache.origin_of(r.model_fingerprint))

        done = update_samples(path, slug, change)
    for r, new in zip(done.runs, done.new):
        log.debug("%s: %s run %s for passage %s (%s)", path, "recorded" if new else "found", r.id, passage.key, r.label)
    return done


def record_origin(path: Path, slug: str, origin: Origin) -> bool:
    """Give the runs already in these samples of the model ``origin`` speaks for that record, under
    the store's lock; whether anything changed. Samples with no run of that model are not
    written, and a store that already keeps a record for it keeps it."""
    if store.is_store(path):
        if not path.exists() and not store.legacy_file(path).exists():
            return False
        cache, _ = store.load_cache(path, slug)  # which models made runs here: every passage read, once a generate
        made = [r for e in cache.passages.values() for r in e.runs if r.model_fingerprint == origin.fingerprint]
        if not made or any(r.origin for r in made):  # none of its runs here, or its record is kept already
            return False

        def change_models(origins: dict) -> bool:
            if origin.fingerprint in origins:
                return False
            origins[origin.fingerprint] = origin
            return True

        done = store.update_models(path, slug, change_models)
    else:
        if not path.exists():
            return False

        def change(cache: SampleCache) -> bool:
            has = any(r.model_fingerprint == origin.fingerprint for e in cache.passages.values() for r in e.runs)
            return has and cache.origin_of(origin.fingerprint) is None and cache.record_origin(origin) is origin

        done = update_samples(path, slug, change)
    if done:
        log.info("%s: the runs of model %s now record where its weights came from (%s)", path, origin.fingerprint, origin.source)
    return done
