"""The picks file's transaction: a compare-and-swap under the file's lock (``generator.locking``).

``pick`` and the studio write picks files only through ``update_picks``: the caller says which
text it read, and its change is applied to the text really there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import atomic_write_text
from ..locking import locked, read_text

@dataclass(frozen=True)
class PicksWrite:
    text: str | None  # the file as this write left it (None: there is none)
    before: str | None  # the file as it was under the lock, before the change
    moved: bool  # the file was not what the writer read: the change was applied to what was there

    @property
    def changed(self) -> bool:
        return self.text != self.before


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
