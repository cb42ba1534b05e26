"""Small file-system helpers: atomic writes and content hashes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # what open() would give a new file; mkstemp's 0600 would not


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.

    The temp file lives in the same directory (same file system) and, when
    ``durable``, is fsynced before the rename, so a power loss leaves one
    complete version behind. The site's output is regenerated from content/ at
    will, so its pages skip the fsync (a millisecond a file); the cache and the
    picks, which hold the artist's work, never do. ``mode``: the file's permissions
    (default: what ``open()`` gives under the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _MODE if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def sync_folder(path: Path) -> None:
    """fsync a folder: the names written, renamed or removed in it are on disk (an atomic write
    syncs the file's bytes; a rename is the folder's)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def digest(data: bytes | str, size: int = 16) -> str:
    """A short, stable hex digest (sha256) of bytes or text."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:size]
