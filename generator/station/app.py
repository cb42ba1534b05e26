"""The station's web application: its page and JSON API, in one blueprint.

The guards are the studio's (``generator.localweb``): the Host check, a token
on every POST, no framing, only the station's own script. Visitor and
generated text reach the page only as JSON, put in with ``textContent``, or
through Jinja's autoescaping.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jinja2
from flask import Blueprint, Flask, current_app, jsonify, render_template, request, send_file

from ..localweb import guard
from ..site.render import show_controls
from .session import Station

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
TOKEN_HEADER = "X-Station-Token"
SITE_STATIC = HERE.parents[1] / "site_templates" / "static"
STATIC = {"palette.css": SITE_STATIC / "palette.css", "station.css": HERE / "static" / "station.css", "station.js": HERE / "static" / "station.js"}

views = Blueprint("station", __name__)


def station() -> Station:
    return current_app.extensions["station"]


def _error(message: str, status: int):
    return jsonify({"error": message}), status


guard(views, name="station", token_header=TOKEN_HEADER, keys=lambda: (station().hosts, station().token), error=_error,
      extra_headers={"Cache-Control": "no-store"})  # nothing a visitor wrote lingers in a cache


@views.get("/")
def index():
    s = station()
    return render_template("station.html", station=s, token=s.token, missing=s.missing())


@views.get("/static/<name>")
def static(name: str):
    path = STATIC.get(name)
    if path is None:
        return _error("no such file", 404)
    return send_file(path, max_age=0)


@views.get("/api/examples")
def examples():
    return jsonify(station().examples_payload())


@views.post("/api/visits")
def submit():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error("send JSON: {\"passage\": \"…\"}", 400)
    message, status, visit = station().submit(body.get("passage"))
    if visit is None:
        return _error(message, status)
    return jsonify({"id": visit.id}), 202


@views.get("/api/visits/<vid>")
def status(vid: str):
    payload = station().status(vid)
    if payload is None:
        return _error("this request is no longer known here; please start again", 404)
    return jsonify(payload)


class _Flask(Flask):
    jinja_options = {**Flask.jinja_options, "finalize": show_controls, "undefined": jinja2.StrictUndefined,
                     "trim_blocks": True, "lstrip_blocks": True}


def create_app(s: Station) -> Flask:
    app = _Flask(__name__, template_folder=str(HERE / "templates"), static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024  # 600 characters, with room for JSON escapes
    app.extensions["station"] = s
    app.register_blueprint(views)
    return app
