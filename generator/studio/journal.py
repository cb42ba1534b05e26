"""The studio's undo history, kept on disk so it survives a restart.

One JSON file per essay under ``.vsr-studio/journal/<content folder's hash>/``.
Each step holds the picks file's bytes before and after one decision, and the
passage's entry before it: undo writes the old bytes back when the file is
still what the decision left, and puts the old entry back into whatever is
there otherwise. A journal whose last step does not match the picks file
(it was changed while the studio was not running) is dropped: undo starts
afresh, as it does when the file changes under a running studio.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import atomic_write_text, digest
from ..picks.candidates import PickRef
from ..picks.store import PassagePicks

log = logging.getLogger(__name__)

FORMAT = 1
MAX_STEPS = 500


@dataclass(frozen=True)
class Step:
    key: str  # the passage
    old: PassagePicks | None  # its entry before the decision (None: it had none)
    before: str | None  # the picks file's text before (None: there was no file)
    after: str | None  # and after


def _ref_text(ref: PickRef) -> str:
    return f"{ref}@{ref.check}" if ref.check else str(ref)


def _entry_to(entry: PassagePicks | None) -> dict | None:
    if entry is None:
        return None
    return {"key": entry.key, "picks": [_ref_text(r) for r in entry.refs], "rejected": [_ref_text(r) for r in entry.rejected], "auto": entry.auto}


def _entry_from(data: dict | None) -> PassagePicks | None:
    if data is None:
        return None
    return PassagePicks(data["key"], [PickRef.parse(r) for r in data["picks"]], bool(data["auto"]), [PickRef.parse(r) for r in data["rejected"]])


class Journal:
    """The undo steps of one essay, in memory and on disk."""

    def __init__(self, folder: Path | None, content: Path, slug: str):
        self.path = folder / digest(str(content.resolve()), 12) / f"{slug}.json" if folder else None
        self.steps: list[Step] = []
        self._dirty = False
        self._io = threading.Lock()  # one flush at a time: the last one writes the latest steps

    def load(self, current: str | None) -> None:
        """Read the steps kept on disk, if the picks file is still what the last one left."""
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text("utf-8"))
            steps = [Step(s["key"], _entry_from(s["old"]), s["before"], s["after"]) for s in data["steps"]] if data.get("format") == FORMAT else []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable undo journal, starting afresh (%s)", self.path, exc)
            steps = []
        if steps and steps[-1].after == current:
            self.steps = steps
        else:
            self.clear()

    # push, pop and clear change the steps in memory (under the studio's lock); ``flush`` puts them
    # on disk, fsynced, after the studio has let go of its lock, so no page waits for a disk.

    def push(self, step: Step) -> None:
        self.steps = [*self.steps, step][-MAX_STEPS:]
        self._dirty = True

    def pop(self) -> Step:
        step = self.steps.pop()
        self._dirty = True
        return step

    def clear(self) -> None:
        self.steps = []
        self._dirty = True

    def __bool__(self) -> bool:
        return bool(self.steps)

    def flush(self) -> None:
        """Write the steps as they are now (or remove the file when there are none)."""
        with self._io:
            if not self._dirty or self.path is None:
                self._dirty = False
                return
            self._dirty = False
            steps = list(self.steps)
            try:
                if not steps:
                    self.path.unlink(missing_ok=True)
                    return
                data = [{"key": s.key, "old": _entry_to(s.old), "before": s.before, "after": s.after} for s in steps]
                atomic_write_text(self.path, json.dumps({"format": FORMAT, "steps": data}, ensure_ascii=False) + "\n")
            except OSError as exc:  # the decision is saved already; only a restart would forget how to undo it
                log.warning("%s: could not keep the undo history on disk (%s); undo works until the studio stops", self.path, exc)
