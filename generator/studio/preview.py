"""The studio's preview: the site as it will be published (drafts shown), rebuilt by
the site's own incremental build after every decision, in a folder of its own.

Rebuilds run on one thread: decisions made while one runs are folded into the
next, so a burst of key presses costs at most one build after the last of them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from ..errors import InputError
from ..site.builder import Options, Paths, build

log = logging.getLogger(__name__)


class Preview:
    def __init__(self, paths: Paths):
        self.paths = paths
        self.built = -1  # the studio version the preview shows
        self.seconds = 0.0  # the last build's time
        self.error: str | None = None
        self._wanted = 0
        self._files: dict[str, Path] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def rebuild_now(self, version: int) -> None:
        """Build at once, on the calling thread (at start-up)."""
        start = time.perf_counter()
        try:
            build(self.paths, Options(drafts=True))
            self.error = None
        except InputError as exc:
            self.error = f"the preview could not be built: {exc}"
            log.error("%s", self.error)
        self.seconds = time.perf_counter() - start
        files = self._scan()
        with self._cond:
            self._files, self.built = files, max(self.built, version)
            self._cond.notify_all()

    def request(self, version: int) -> None:
        """Ask for a build showing ``version`` (returns at once)."""
        with self._cond:
            self._wanted = max(self._wanted, version)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="preview", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self, version: int, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.built >= version, timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wanted > self.built)
                version = self._wanted
            self.rebuild_now(version)

    def _scan(self) -> dict[str, Path]:
        """Every file of the preview by its URL path: the only paths ever served."""
        root = self.paths.output.resolve()
        files: dict[str, Path] = {}
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = Path(folder).relative_to(root).as_posix()
            prefix = "" if rel == "." else rel + "/"
            for name in names:
                if not name.startswith("."):
                    files[prefix + name] = Path(folder) / name
                    if name == "index.html":
                        files[prefix] = Path(folder) / name
        return files

    def file(self, url_path: str) -> Path | None:
        return self._files.get(url_path)
