"""The studio's preview: the site as it will be published (drafts shown), rebuilt by
the site's own incremental build after every decision, in a folder of its own.

Rebuilds run on one thread: decisions made while one runs are folded into the
next, so a burst of key presses costs at most one build after the last of them.
The build defers the animations it would have to draw (most of a rebuild's
time): the page names them as the published page does, and each is drawn, byte
for byte what `python build.py` writes, when the preview first asks for it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path

from ..errors import InputError
from ..site.builder import Options, Paths, build
from ..site.gifs import GifCache
from ..site.writer import gif_cache_dir

log = logging.getLogger(__name__)
_ANIMATION = re.compile(r"essays/[a-z0-9-]+/gifs/([0-9a-f]{16})\.(gif|png)")


class Preview:
    def __init__(self, paths: Paths):
        self.paths = paths
        self.built = -1  # the studio version the preview shows
        self.seconds = 0.0  # the last build's time
        self.error: str | None = None
        self._wanted = 0
        self._files: dict[str, Path] = {}
        self._pending: dict[str, list] = {}  # animations the preview names but has not drawn
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False

    def rebuild_now(self, version: int) -> None:
        """Build at once, on the calling thread (at start-up)."""
        start = time.perf_counter()
        pending = self._pending
        try:
            pending = build(self.paths, Options(drafts=True, defer_animations=True)).pending
            self.error = None
        except InputError as exc:
            self.error = f"the preview could not be built: {exc}"
            log.error("%s", self.error)
        self.seconds = time.perf_counter() - start
        files = self._scan()
        with self._cond:
            self._files, self._pending, self.built = files, pending, max(self.built, version)
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
                self._cond.wait_for(lambda: self._wanted > self.built or self._stop)
                if self._stop:
                    return
                version = self._wanted
            self.rebuild_now(version)

    def close(self) -> None:
        """Let a build under way finish, then stop (the studio is shutting down)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)

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

    @property
    def pending(self) -> list[str]:
        """The names of the animations the preview's pages name and it has not drawn yet."""
        return list(self._pending)

    def animation(self, url_path: str) -> bytes | None:
        """A deferred animation the preview's pages name, drawn now (then cached); None for any other path."""
        m = _ANIMATION.fullmatch(url_path)
        what = self._pending.get(m.group(1)) if m else None
        if what is None:
            return None
        render = GifCache(gif_cache_dir(self.paths.output.resolve())).draw(*what)
        return render.gif if m.group(2) == "gif" else render.png
