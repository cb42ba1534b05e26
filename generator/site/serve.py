"""Serving output/ on a local address: `python build.py serve` (rebuilding on change)
and `python build.py kiosk`.

The server answers only to the Host names it is bound to (DNS rebinding), serves
nothing but GET and HEAD, and forbids framing, like the studio.
"""

from __future__ import annotations

import functools
import http.server
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError

log = logging.getLogger(__name__)


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """The Host headers a server on ``host:port`` answers to, the one meaning of ``--host`` for
    serve, the kiosk, the studio and the station: its address, and `localhost` on loopback. None
    (any) when bound to every address (0.0.0.0 or ::), to be reached from other machines by names
    no list can know: keep such a server to the venue's own network."""
    if everywhere(host):
        log.warning("bound to every address (%s): requests are answered whatever name they use; keep it to the venue's own network", host)
        return None
    names = {f"[{host}]" if ":" in host else host}
    try:
        if ipaddress.ip_address(host).is_loopback:
            names.add("localhost")
    except ValueError:
        pass
    return {f"{name}:{port}".lower() for name in names}


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
    hosts: set[str] | None = set()  # None: any (bound to every address on purpose, for other machines)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib's name
        log.debug("%s " + format, self.address_string(), *args)

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", "frame-ancestors 'none'")
        self.send_header("X-Frame-Options", "DENY")
        super().end_headers()

    def _host_ok(self) -> bool:
        if self.hosts is None or (self.headers.get("Host") or "").lower() in self.hosts:
            return True
        self.send_error(403, "Unknown Host", f"this server answers at {' or '.join(sorted(self.hosts))}")
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        if self._host_ok():
            super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib's name
        if self._host_ok():
            super().do_HEAD()


def open_server(output: Path, host: str, port: int) -> http.server.ThreadingHTTPServer:
    """A server for ``output`` bound to ``host:port`` (0: a free port), not yet serving."""
    handler = type("Handler", (_Handler,), {"hosts": set()})  # this server's own Host list
    try:
        server = http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(output)))
    except OSError as exc:
        raise InputError(None, f"cannot serve on {host}:{port}: {exc.strerror or exc} (try another --port)") from None
    handler.hosts = allowed_hosts(host, server.server_address[1])
    return server


def everywhere(host: str) -> bool:
    """Bound to 0.0.0.0 or ::, to be reached by name from other machines: no Host list can be known."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def url_of(server: http.server.HTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{f'[{host}]' if ':' in str(host) else host}:{port}/"


def serve(output: Path, host: str, port: int, folders: list[Path], rebuild: Callable[[], None]) -> None:
    server = open_server(output, host, port)
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(folders, rebuild, stop), daemon=True)
    watcher.start()
    log.warning("serving %s at %s (Ctrl-C to stop)", output, url_of(server))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        time.sleep(0)
