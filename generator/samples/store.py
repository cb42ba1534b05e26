"""An essay's sample store: ``content/samples/<slug>.passages/``, one file per passage.

    <slug>.passages/
      <passage key>.json    the passage's text and every run made for it (sorted keys, indented)
      models.json           each model's recorded origin, keyed by its fingerprint

A novel has some 1,500 passages. In the one file an essay had before (``<slug>.json``, still
read), recording one passage meant reading, parsing, dumping and syncing all of them: 272 ms
at 1,500 passages, 3% of a 124M passage's generation (``bench/store.py``). Here a write reads
and writes its own passage's file (and ``models.json`` when a model's first record comes), so
it costs the size of what it records, whatever the essay's length.

What stays as it was:

* **one lock an essay** (``.<slug>.passages.lock`` beside the folder): every write holds it,
  so the legacy file's conversion and a passage's write never interleave; a write holds it
  for milliseconds, so one lock costs a novel's writers nothing;
* **atomic, append-only writes**: a passage's file is replaced whole (temp file, fsync,
  rename) and its runs only ever grow (``PassageSamples.add``);
* **deterministic bytes**: a passage's file holds only that passage's runs, in the order they
  were added to it, so its bytes do not depend on the order passages were made in (one
  process or many machines give the same folder);
* **diffs**: a re-run that adds to one passage changes one file.

The legacy file is read as before. The first write converts it: each of its passages goes to
its own file (merged with what the folder already holds, so a conversion cut short and done
again loses nothing and adds nothing twice), then the file is removed. A reader that finds both
(a conversion cut short) merges them, so no passage is ever missing.

The exploration's caches (``samples/explore/<slug>.json``) stay one file each: an exploration
is a grid over a few passages, never a novel. ``load_cache`` and ``record`` take either kind
of path.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from ..errors import InputError
from ..fsutil import atomic_write_text, digest, sync_folder
from .cache import FORMAT, CacheError, PassageSamples, SampleCache, load_file, origins_from, parse_passage, run_as_dict
from .origin import Origin

log = logging.getLogger(__name__)
T = TypeVar("T")

SUFFIX = ".passages"
MODELS = "models.json"
_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a passage key that can name its file (they are 12 hex digits)


def is_store(path: Path) -> bool:
    """Whether ``path`` names a folder store (``ContentLayout.samples``), not a one-file cache."""
    return path.suffix == SUFFIX


def legacy_file(folder: Path) -> Path:
    """The one file an essay's samples were kept in before the folder: ``<slug>.json``."""
    return folder.with_suffix(".json")


def passage_file(folder: Path, key: str) -> Path:
    return folder / f"{key}.json"


def _passage_files(folder: Path) -> list[Path]:
    """The folder's passage files, in key order (not its models record, nor a writer's temp files)."""
    try:
        names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".json") and not e.name.startswith(".") and e.name != MODELS)
    except FileNotFoundError:
        return []
    return [folder / n for n in names]


# -- the files' text ------------------------------------------------------------


def dump_passage(slug: str, key: str, entry: PassageSamples) -> str:
    doc = {"format": FORMAT, "essay": slug, "key": key, **({"position": entry.position} if entry.position is not None else {}),
           "text": entry.text, "runs": [run_as_dict(r) for r in entry.runs]}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dump_models(slug: str, origins: dict[str, Origin]) -> str:
    doc = {"format": FORMAT, "essay": slug, "models": {fp: o.as_dict() for fp, o in sorted(origins.items())}}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _parse_passage_file(path: Path, slug: str) -> PassageSamples:
    """One passage's file (CacheError, OSError, ValueError when it is not one)."""
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CacheError(f"not a format-{FORMAT} passage file")
    if data.get("key") != path.stem:
        raise CacheError(f"its 'key' is {data.get('key')!r}, not its file's name")
    if data.get("essay") != slug:
        raise CacheError(f"its 'essay' is {data.get('essay')!r}, not {slug!r}")
    return parse_passage({k: v for k, v in data.items() if k not in ("format", "essay", "key")})


def _read_models(folder: Path, slug: str, problems: list[str]) -> dict[str, Origin]:
    path = folder / MODELS
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path}: unreadable ({exc})")
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("essay") != slug:
        problems.append(f"{path}: not the format-{FORMAT} models record of essay {slug!r}")
        return {}
    found: list[str] = []
    origins = origins_from(data.get("models", {}), found)
    problems += [f"{path}: {p}" for p in found]
    return origins


def _read_passage(folder: Path, slug: str, key: str, problems: list[str]) -> PassageSamples | None:
    path = passage_file(folder, key)
    try:
        return _parse_passage_file(path, slug)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:  # JSONDecodeError and CacheError are ValueErrors
        problems.append(f"{path}: {exc}")
        return None


# -- reading --------------------------------------------------------------------


def _merge(into: SampleCache, other: SampleCache) -> None:
    """``other``'s passages and runs added to ``into``'s (runs already there are found, not added)."""
    for key, entry in other.passages.items():
        mine = into.passages.get(key)
        if mine is None:
            into.passages[key] = entry
            continue
        for run in entry.runs:
            mine.add(run)
        if mine.position is None:
            mine.position = entry.position


def _combined(old: PassageSamples, new: PassageSamples | None) -> PassageSamples:
    """A passage's entry from the legacy file with the folder's runs for it added (``new``), a copy."""
    entry = PassageSamples(old.text, list(old.runs), old.position)
    for run in new.runs if new else ():
        entry.add(run)
    if entry.position is None and new is not None:
        entry.position = new.position
    return entry


def _origins_in(cache: SampleCache) -> dict[str, Origin]:
    return {r.model_fingerprint: r.origin for e in cache.passages.values() for r in e.runs if r.origin}


def _attach(cache: SampleCache, origins: dict[str, Origin]) -> None:
    for entry in cache.passages.values():
        entry.runs = [replace(r, origin=origins.get(r.model_fingerprint) or r.origin) for r in entry.runs]


def _read_store(folder: Path, slug: str) -> tuple[SampleCache, list[str]]:
    """The whole store: (the cache, what was malformed)."""
    problems: list[str] = []
    legacy_path = legacy_file(folder)
    legacy = None
    if legacy_path.exists():  # read before the folder, as load_passage does
        legacy, warning = load_file(legacy_path, slug)
        if warning:
            problems.append(warning)
    cache = SampleCache(slug)
    for path in _passage_files(folder):
        entry = _read_passage(folder, slug, path.stem, problems)
        if entry is not None:
            cache.passages[path.stem] = entry
    origins = _read_models(folder, slug, problems)
    if legacy is not None:  # the folder's record of a model wins, as ``_convert`` keeps it; the legacy file's fills the gaps
        origins = {**_origins_in(legacy), **origins}
        merged = SampleCache(slug, {k: PassageSamples(e.text, list(e.runs), e.position) for k, e in legacy.passages.items()})
        _merge(merged, cache)
        cache = merged
    _attach(cache, origins)
    return cache, problems


def load_cache(path: Path, slug: str) -> tuple[SampleCache, str | None]:
    """An essay's samples, from its store (``<slug>.passages``, with what a legacy ``<slug>.json``
    beside it holds) or from a one-file cache (the exploration's). Missing: empty. Malformed
    passages are left out (they show as not yet verbosified) and named, with their file, in the
    warning."""
    if not is_store(path):
        return load_file(path, slug)
    cache, problems = _read_store(path, slug)
    if problems:
        return cache, f"{path}: malformed sample entries, shown as not yet verbosified: " + "; ".join(problems)
    return cache, None


def load_passage(path: Path, slug: str, key: str) -> PassageSamples | None:
    """One passage's entry, reading only its own file (and the legacy file while there is one).
    One that cannot be read is an InputError: ``generate`` must not write beside it."""
    if not is_store(path):
        cache = _readable(*load_file(path, slug), path)
        return cache.for_passage(key)
    # the legacy file before the folder: a conversion between the two reads moves the passage
    # from the first into the second, so it is seen in one or both, never in neither
    legacy = _readable(*load_file(legacy_file(path), slug), legacy_file(path))
    problems: list[str] = []
    origins = {**_origins_in(legacy), **_read_models(path, slug, problems)}
    entry = _read_passage(path, slug, key, problems)
    old = legacy.for_passage(key)
    if old is not None:
        entry = _combined(old, entry)
    if problems:
        raise InputError(path, "cannot be read, so nothing is written beside it (fix or move the file): " + "; ".join(problems))
    if entry is not None:
        _attach(SampleCache(slug, {key: entry}), origins)
    return entry


def _readable(cache: SampleCache, warning: str | None, path: Path) -> SampleCache:
    if warning:
        raise InputError(path, f"the sample cache is unreadable or holds malformed entries; fix or move it (nothing was changed): {warning}")
    return cache


def signature(path: Path) -> Hashable:
    """What changes when the samples do, read without parsing them (the studio's reload check):
    each file's name, size, change time and inode, the legacy file's too."""
    def stat(p: Path):
        try:
            st = p.stat()
        except FileNotFoundError:
            return None
        return (p.name, st.st_size, st.st_mtime_ns, st.st_ino)

    if not is_store(path):
        return stat(path)
    return (stat(legacy_file(path)), stat(path / MODELS), tuple(stat(p) for p in _passage_files(path)))


def content_digest(path: Path) -> str:
    """A digest of the samples' bytes, whichever files hold them (the build's fingerprint of an essay)."""
    files = [legacy_file(path), path / MODELS, *_passage_files(path)] if is_store(path) else [path]
    parts = []
    for f in files:
        try:
            parts.append(f"{f.name}:{digest(f.read_bytes())}")
        except FileNotFoundError:
            continue
    return digest("\n".join(parts))


# -- writing --------------------------------------------------------------------


@dataclass
class PassageChange:
    """What a change to one passage sees: its entry (a new, empty one if it had none) and the
    origins the store keeps, by fingerprint; a change adds to either."""

    entry: PassageSamples
    origins: dict[str, Origin]


def _write_if_changed(path: Path, before: str | None, after: str) -> bool:
    if after == before:
        return False
    atomic_write_text(path, after)
    return True


def _convert(folder: Path, slug: str) -> None:
    """Move the legacy file's passages into the folder, each merged with what the folder holds for
    it, and then remove the file (under the store's lock). Run again after being cut short, it
    writes the same files."""
    legacy_path = legacy_file(folder)
    legacy = _readable(*load_file(legacy_path, slug), legacy_path)
    problems: list[str] = []
    origins = _read_models(folder, slug, problems)
    entries = {key: _read_passage(folder, slug, key, problems) for key in legacy.passages}
    if problems:
        raise InputError(folder, "cannot be read, so the legacy file is not moved into it (fix or move the file): " + "; ".join(problems))
    unsafe = [key for key in legacy.passages if not _KEY.fullmatch(key) or f"{key}.json" == MODELS]
    if unsafe:
        raise InputError(legacy_path, f"passage key(s) {', '.join(map(repr, unsafe))} cannot name a file; fix the key (nothing was changed)")
    kept = {**_origins_in(legacy), **origins}
    folder.mkdir(parents=True, exist_ok=True)
    for key, old in legacy.passages.items():
        atomic_write_text(passage_file(folder, key), dump_passage(slug, key, _combined(old, entries[key])))
    if kept != origins:
        atomic_write_text(folder / MODELS, dump_models(slug, kept))
    sync_folder(folder)  # the new files' names on disk before the one copy they came from goes
    sync_folder(folder.parent)
    legacy_path.unlink()
    for stale in folder.parent.glob(f".{glob.escape(legacy_path.name)}.*.tmp"):  # what a writer of the one file left, killed
        stale.unlink(missing_ok=True)
    sync_folder(folder.parent)
    log.info("%s: moved its %d passage(s) into %s, a file each", legacy_path, len(legacy.passages), folder)


def convert(folder: Path, slug: str) -> bool:
    """Move a legacy ``<slug>.json`` into the folder now, under the store's lock (the first write
    does it anyway); whether there was one."""
    from ..locking import locked

    with locked(folder):
        if not legacy_file(folder).exists():
            return False
        _convert(folder, slug)
        return True


def update_passage(folder: Path, slug: str, key: str, text: str, change: Callable[[PassageChange], T]) -> T:
    """Read passage ``key``'s entry, let ``change`` add to it, and write what changed, all under
    the store's lock: only that passage's file (and the models record, when a model gets its
    first) is read and written. A legacy file is converted first. A file that cannot be read is
    never written over (InputError)."""
    from ..locking import locked  # the writers' (filelock): the site, which only reads, goes without

    with locked(folder):
        if legacy_file(folder).exists():
            _convert(folder, slug)
        path = passage_file(folder, key)
        problems: list[str] = []
        origins = _read_models(folder, slug, problems)
        entry = _read_passage(folder, slug, key, problems)
        if problems:
            raise InputError(folder, "cannot be read, so nothing is written to it (fix or move the file): " + "; ".join(problems))
        before = dump_passage(slug, key, entry) if entry is not None else None
        models_before = dict(origins)
        seen = PassageChange(entry if entry is not None else PassageSamples(text), origins)
        result = change(seen)
        if seen.entry.runs or entry is not None:  # a passage with no run is not written
            _write_if_changed(path, before, dump_passage(slug, key, seen.entry))
        if seen.origins != models_before:
            atomic_write_text(folder / MODELS, dump_models(slug, seen.origins))
        return result


def update_models(folder: Path, slug: str, change: Callable[[dict[str, Origin]], T]) -> T:
    """Change the store's models record alone, under the store's lock (a legacy file converted first)."""
    from ..locking import locked

    with locked(folder):
        if legacy_file(folder).exists():
            _convert(folder, slug)
        problems: list[str] = []
        origins = _read_models(folder, slug, problems)
        if problems:
            raise InputError(folder, "cannot be read, so nothing is written to it (fix or move the file): " + "; ".join(problems))
        before = dict(origins)
        result = change(origins)
        if origins != before:
            atomic_write_text(folder / MODELS, dump_models(slug, origins))
        return result
