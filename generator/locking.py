"""The lock every read-modify-write of content/ holds: one lock per file, held across it.

Five programs change the artist's files: ``generate``, ``explore``, ``pick``, the studio's web
process and the engine worker. An atomic write alone is not enough: two writers that read the
same file and each add their part lose one part. So each change reads the file, changes it and
writes it under that file's lock (``filelock``'s ``flock``, which the kernel drops when the
holder dies, so a killed writer never leaves a lock that blocks the next).

The lock file sits beside the data (``content/samples/.<slug>.passages.lock``, git-ignored) and
holds the holder's pid and command, so a writer that waits too long says who holds it.

Each kind of file's transaction lives beside the stage that owns the file, on top of this:
``samples.store.update_passage`` (an essay's samples, a passage at a time, append-only) and ``picks.writes.update_picks``
(a picks file, compare-and-swap). ``append_line`` here is the append-only log's (the station's
--keep file).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import InputError

log = logging.getLogger(__name__)

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
        if path.is_dir():  # a folder's lock (a sample store) covers the files in it: one listing of names, no file read
            for stale in path.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
        yield time.perf_counter() - start
    finally:
        lock.release()


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
