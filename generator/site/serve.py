"""`python build.py serve`: build, serve output/, rebuild when inputs change."""

from __future__ import annotations

import functools
import http.server
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def _snapshot(folders: list[Path]) -> dict[str, tuple[float, int]]:
    state = {}
    for folder in folders:
        for p in folder.rglob("*"):
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".tmp"):
                st = p.stat()
                state[str(p)] = (st.st_mtime, st.st_size)
    return state


def watch(folders: list[Path], rebuild: Callable[[], None], stop: threading.Event, interval: float = 0.5) -> None:
    """Poll ``folders`` and call ``rebuild`` after a change (polling: no extra dependency, works everywhere)."""
    seen = _snapshot(folders)
    while not stop.wait(interval):
        now = _snapshot(folders)
        if now != seen:
            seen = now
            rebuild()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib's name
        log.debug("%s " + format, self.address_string(), *args)


def serve(output: Path, host: str, port: int, folders: list[Path], rebuild: Callable[[], None]) -> None:
    handler = functools.partial(_Handler, directory=str(output))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(folders, rebuild, stop), daemon=True)
    watcher.start()
    log.warning("serving %s at http://%s:%d/ (Ctrl-C to stop)", output, host, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        time.sleep(0)
