"""`python build.py studio`: wire the studio's parts and serve them on 127.0.0.1."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..site.builder import Paths
from ..errors import InputError
from ..localweb import server_url
from ..site.serve import allowed_hosts, everywhere
from .app import create_app
from .jobs import EngineWorker
from .preview import Preview
from .session import Studio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudioOptions:
    content: Path
    models_dir: Path
    model: str | None
    ratio: float
    preview: Path  # the preview site's folder
    templates: Path
    project: Path
    host: str = "127.0.0.1"
    port: int = 8001
    journal: Path | None = None  # the undo histories (default: beside the preview, in .vsr-studio/journal)


@dataclass
class Running:
    """A studio bound to its port, not yet serving: ``server.serve_forever()`` serves it."""

    server: object  # werkzeug's BaseWSGIServer
    studio: Studio
    engine: EngineWorker
    preview: Preview
    token: str

    @property
    def url(self) -> str:
        return server_url(self.server)

    def close(self) -> None:
        self.server.server_close()
        self.preview.close()
        self.engine.close()


def open_studio(options: StudioOptions) -> Running:
    """Check the folders, bind the port, build the preview once: the studio, ready to serve."""
    from werkzeug.serving import make_server

    from ..samples.request import request_from
    from ..site.builder import PACKAGE
    from ..site.writer import check_output_dir

    if everywhere(options.host):
        raise InputError(None, f"--host {options.host}: the studio writes your files, so it listens on this machine (127.0.0.1) "
                               "or an address you name, never on every address, where any page on the network could reach it")
    check_output_dir(options.preview, project=options.project, protected=[options.content, options.templates, PACKAGE])
    studio = Studio(options.content, ratio=options.ratio, journal=options.journal or options.preview.parent / "journal")
    engine = EngineWorker(request_from(studio.config, options.models_dir, model=options.model))
    preview = Preview(Paths(content=options.content, output=options.preview, templates=options.templates, project=options.project))
    preview.rebuild_now(studio.version)
    token = secrets.token_urlsafe(32)
    server = make_server(options.host, options.port, None, threaded=True)  # bound first: the port may be 0
    server.app = create_app(studio, engine, preview, token=token, hosts=allowed_hosts(options.host, server.server_port),
                            site_static=options.templates / "static")
    return Running(server, studio, engine, preview, token)


def serve(options: StudioOptions) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    logging.getLogger("generator.site.builder").setLevel(logging.WARNING)  # the preview's build notes are not the artist's concern
    running = open_studio(options)
    log.warning("the studio is at %s for %d essay(s) (Ctrl-C to stop)", running.url, len(running.studio.headers()))
    try:
        running.server.serve_forever()  # werkzeug's server stops quietly on Ctrl-C
    finally:
        running.close()
