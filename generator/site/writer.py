"""output/: refusing dangerous paths, writing only what changed, removing stale files."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from ..errors import InputError
from ..fsutil import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)


def check_output_dir(output: Path, *, project: Path, protected: list[Path]) -> Path:
    """Refuse an output path whose cleaning would destroy something that is not ours.

    Refused: the file-system root, the home folder, the project root or any
    folder above it or above the working directory, any of ``protected``
    (content/, site_templates/, ...) or anything inside or above them, and a
    folder that holds files but no build of ours made (/tmp, /usr, ...):
    stale-file removal would empty it.
    """
    out = output.expanduser().resolve()
    reason = None
    if out == Path(out.anchor):
        reason = "it is the file-system root"
    elif out == Path.home().resolve():
        reason = "it is your home folder"
    elif out == project.resolve() or project.resolve().is_relative_to(out):
        reason = "it is the project folder or a folder above it"
    elif Path.cwd().resolve().is_relative_to(out):
        reason = "it is the working directory or a folder above it"
    else:
        for p in protected:
            p = p.resolve()
            if out.is_relative_to(p) or p.is_relative_to(out):
                reason = f"it is, holds or lies inside {p}"
                break
    if not reason and out.is_dir() and not manifest_path(out).exists() and any(out.iterdir()):
        reason = "it holds files and no build of this site made it (remove it, or choose an empty or new folder)"
    if reason:
        raise InputError(output, f"refusing to use this as the output folder: {reason}")
    if out.exists() and not out.is_dir():
        raise InputError(output, "the output path exists and is not a folder")
    return out


def manifest_path(output: Path) -> Path:
    """The build manifest lives beside output/, not in it, so it is never published."""
    return output.parent / ".vsr-cache" / f"{output.name}.json"


def gif_cache_dir(output: Path) -> Path:
    return output.parent / ".vsr-cache" / f"{output.name}-gifs"


def load_manifest(output: Path) -> dict:
    try:
        data = json.loads(manifest_path(output).read_text("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_manifest(output: Path, manifest: dict) -> None:
    atomic_write_text(manifest_path(output), json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def apply(output: Path, files: dict[str, bytes], keep: set[str]) -> tuple[int, int]:
    """Write ``files`` (only those whose bytes differ), keep ``keep`` as they
    are, remove everything else. Returns (written, removed)."""
    written = removed = 0
    output.mkdir(parents=True, exist_ok=True)
    for rel, data in sorted(files.items()):
        path = output / rel
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                continue
        except FileNotFoundError:
            pass
        atomic_write_bytes(path, data, durable=False)  # output/ is rebuilt from content/ at will
        written += 1
    wanted = set(files) | keep
    for dirpath, dirnames, filenames in os.walk(output, topdown=False):
        for name in filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(output).as_posix()
            if rel not in wanted:
                path.unlink()
                removed += 1
                log.debug("removed stale %s", rel)
        for name in dirnames:
            d = Path(dirpath, name)
            if d.is_symlink():
                continue
            if not any(d.iterdir()):
                d.rmdir()
    return written, removed


def clean(output: Path) -> bool:
    """Remove output/ and its build manifest. True if there was anything to remove."""
    existed = output.exists()
    if existed:
        shutil.rmtree(output)
    cache = manifest_path(output)
    if cache.exists():
        cache.unlink()
        existed = True
    gifs = gif_cache_dir(output)
    if gifs.exists():
        shutil.rmtree(gifs)
        existed = True
    try:
        cache.parent.rmdir()
    except OSError:
        pass
    return existed
