"""Every read-modify-write of content/: one lock per essay file, held across it.

Five programs change the artist's files: ``generate``, ``explore``, ``pick``,
the studio's web process and the studio's engine worker. An atomic write alone
is not enough: two writers that read the same file and each add their part
lose one part. So each change here reads the file, changes it and writes it
under that file's lock (``filelock``'s ``flock``, which the kernel drops when
the holder dies, so a killed writer never leaves a lock that blocks the next).

The lock file sits beside the data (``content/samples/.<slug>.json.lock``,
git-ignored) and holds the holder's pid and command, so a writer that waits
too long says who holds it.

* ``update_samples``: add runs to a sample cache, append-only.
* ``update_picks``: rewrite a picks file, as a compare-and-swap: the caller says
  which text it read, and its change is applied to the text really there.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from filelock import FileLock, Timeout

from .errors import InputError
from .fsutil import atomic_write_text
from .samples.cache import SampleCache, dump_cache, load_cache

log = logging.getLogger(__name__)
T = TypeVar("T")

class LockTimeout(InputError):
    """Another writer held the file's lock too long; nothing was changed."""


WAIT_SECONDS = 10.0  # a writer holds a lock for milliseconds: ten seconds means something is wrong


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def _holder(path: Path) -> str:
    """Who holds ``path``'s lock, as its holder wrote it."""
    try:
        data = json.loads(lock_path(path).read_text("utf-8") or "{}")
        pid, command, since = int(data["pid"]), str(data["command"]), float(data["since"])
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it did not say which)"
    return f"process {pid} ({command}), since {time.strftime('%H:%M:%S', time.localtime(since))}"


def _stamp(fd: int) -> None:
    """Write this process into the lock file it just locked (waiters read it)."""
    record = json.dumps({"pid": os.getpid(), "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200],
                         "since": time.time()}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, record, 0)


@contextlib.contextmanager
def locked(path: Path, *, wait: float | None = None) -> Iterator[float]:
    """Hold ``path``'s lock (yields the seconds it took to get it). After ``wait``
    seconds (default ``WAIT_SECONDS``) an InputError names the holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(path), timeout=WAIT_SECONDS if wait is None else wait, on_acquired=_stamp)
    start = time.perf_counter()
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:  # said, so that a writer who waits can be seen waiting (and tests can wait for it)
            log.info("%s: waiting for its lock, held by %s", path, _holder(path))
            lock.acquire()
    except Timeout:
        raise LockTimeout(path, f"another writer holds this file: {_holder(path)}; waited {time.perf_counter() - start:.0f} s, "
                               "nothing was changed (try again when it is done)") from None
    try:
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):  # a writer killed mid-write left it; only holders write them
            stale.unlink(missing_ok=True)
        yield time.perf_counter() - start
    finally:
        lock.release()


# -- the sample caches --------------------------------------------------------


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


# -- the picks files ----------------------------------------------------------


@dataclass(frozen=True)
class PicksWrite:
    text: str | None  # the file as this write left it (None: there is none)
    before: str | None  # the file as it was under the lock, before the change
    moved: bool  # the file was not what the writer read: the change was applied to what was there

    @property
    def changed(self) -> bool:
        return self.text != self.before


def read_text(path: Path) -> str | None:
    """The file's text (None when there is none); one that cannot be read is an InputError."""
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"is not UTF-8 text ({exc}); fix it in your editor: nothing was changed") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc}); nothing was changed") from None


REMOVE = object()  # what a change returns to take the file away (undo back to "no picks file")


def update_picks(path: Path, change: Callable[[str | None], object], *, read: str | None | object = ...) -> PicksWrite:
    """Compare-and-swap on a picks file: under its lock, read it, apply ``change`` (text
    in; text out, None to leave it, or REMOVE) to what is there, and write the result.
    ``read`` is the text the writer last saw; when the file differs, the change is
    applied to the file as it is (never to the writer's older copy) and the result
    says so. ``change`` raises to write nothing."""
    with locked(path):
        current = read_text(path)
        new = change(current)
        if new is REMOVE:
            path.unlink(missing_ok=True)
            new = None
        elif isinstance(new, str) and new != current:
            atomic_write_text(path, new)
        else:
            new = current
        return PicksWrite(new, current, read is not ... and read != current)


# -- append-only logs ---------------------------------------------------------


def append_line(path: Path, line: str) -> None:
    """Append one line to ``path`` under its lock, whole or not at all: a single write
    of the line with O_APPEND, then fsync (the station's --keep file)."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    with locked(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                if os.write(fd, data) != len(data):
                    raise OSError("short write")
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # never half a line
                raise
        finally:
            os.close(fd)
