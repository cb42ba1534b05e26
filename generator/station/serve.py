"""`python build.py station`: the station on 127.0.0.1, for a gallery screen."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..localweb import server_url
from ..site.serve import allowed_hosts
from .app import create_app
from .session import Station

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StationOptions:
    content: Path
    models_dir: Path
    model: str | None = None
    keep: Path | None = None  # append each request here (nothing is stored without it)
    host: str = "127.0.0.1"
    port: int = 8002


@dataclass
class Running:
    """A station bound to its port, not yet serving: ``server.serve_forever()`` serves it."""

    server: object  # werkzeug's BaseWSGIServer
    station: Station

    @property
    def url(self) -> str:
        return server_url(self.server)

    def close(self) -> None:
        self.server.server_close()
        self.station.close()


def open_station(options: StationOptions) -> Running:
    """Read the exhibit, bind the port: the station, ready to serve."""
    from werkzeug.serving import make_server

    from ..errors import InputError

    station = Station(options.content, options.models_dir, options.model, options.keep, secrets.token_urlsafe(32))
    try:
        server = make_server(options.host, options.port, None, threaded=True)  # bound first: the port may be 0
    except (OSError, SystemExit) as exc:
        station.close()
        raise InputError(None, f"cannot serve on {options.host}:{options.port}: {exc} (try another --port)") from None
    station.hosts = allowed_hosts(options.host, server.server_port)
    server.app = create_app(station)
    return Running(server, station)


def serve(options: StationOptions) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request: visitors' requests are not logged
    running = open_station(options)
    missing = running.station.missing()
    if missing:
        log.warning("no model: %s; the station shows the examples' cached results", missing)
    log.warning("the station is at %s (Ctrl-C to stop)%s", running.url, f"; keeping requests in {options.keep}" if options.keep else "")
    try:
        running.server.serve_forever()
    finally:
        running.close()
