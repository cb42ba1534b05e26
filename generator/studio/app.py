"""The studio's web application (Flask): pages and the JSON API, in one blueprint.

Guards (``generator.localweb``, shared with the station), for a local server that writes files: it answers only requests whose
Host header names the address it is bound to (DNS rebinding); every POST must
carry this run's token (a page on another site cannot read it) and come from
the studio's own origin (``Origin``, ``Sec-Fetch-Site``); no page may be
framed (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``: a framed page
would let another site borrow the artist's clicks) and no script runs but
the studio's own file (``script-src 'self'``); ids from a request are looked
up among the essays, passages and candidates the studio knows and never
become paths, and every page is rendered with autoescaping.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request, send_file

from ..config import generation_problem
from ..samples.engine.factory import top_k_problem
from ..errors import InputError
from ..localweb import guard
from ..site.chapters import chapters_of
from ..site.render import show_controls
from .jobs import EngineWorker
from .preview import Preview
from .session import Conflict, Studio, StudioError
from .views import passage_view, totals

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
TOKEN_HEADER = "X-Studio-Token"
OWN_PARAMS = {"temperature": float, "top_k": int, "seed": int, "length": int, "samples": int}  # "more samples" in the page
_WHOLE = re.compile(r"[+-]?\d{1,19}")


def number(name: str, value: object, kind: type) -> int | float:
    """A number from a request, exactly: 3.7 is not a sample count, and neither is True."""
    if isinstance(value, str):
        value = value.strip()
        if kind is int and _WHOLE.fullmatch(value):
            return int(value)
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise StudioError(f"'{name}' must be a {'whole ' if kind is int else ''}number, got {str(value)[:40]!r}")
    if kind is float and isinstance(value, int) and abs(value) > 2**53:
        raise StudioError(f"'{name}' is out of range, got {str(value)[:40]!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise StudioError(f"'{name}' must be a whole number, got {value!r}")
        return int(value)
    return float(value)


class _Flask(Flask):
    jinja_options = {**Flask.jinja_options, "finalize": show_controls, "undefined": jinja2.StrictUndefined,
                     "trim_blocks": True, "lstrip_blocks": True}


@dataclass(frozen=True)
class Context:
    """What the views work on, kept in ``app.extensions["studio"]``."""

    studio: Studio
    engine: EngineWorker
    preview: Preview
    token: str
    hosts: set[str] | None  # None: bound to every address (site.serve.allowed_hosts)
    static: dict[str, Path]


views = Blueprint("studio", __name__)


def ctx() -> Context:
    return current_app.extensions["studio"]


def _refuse(message: str, status: int):
    return _error(message, status)


guard(views, name="studio", token_header=TOKEN_HEADER, keys=lambda: (ctx().hosts, ctx().token), error=_refuse)


@views.app_errorhandler(StudioError)
def refused(exc: StudioError):
    return _error(str(exc), exc.status)


@views.app_errorhandler(InputError)
def bad_input(exc: InputError):
    return _error(str(exc), 400)


def page_context(**more) -> dict:
    c = ctx()
    return {"token": c.token, "ratio_target": c.studio.ratio, "site": c.studio.config, **more}


# Every page is rendered from a snapshot of the essay's state (``Studio.view``), outside the
# studio's lock: a refresh in another thread gives the state new objects, never changes these.


@views.get("/")
def index():
    studio = ctx().studio
    rows = [(s, totals(s.verbosified(studio.config.sentence_splitter), studio.ratio)) for s in studio.views()]
    return render_template("list.html", **page_context(rows=rows))


@views.get("/essays/<slug>/")
def essay(slug: str):
    studio, engine = ctx().studio, ctx().engine
    missing = engine.missing()
    try:
        s = studio.view(slug)
    except StudioError:
        abort(404)
    # a long text, a chapter at a time, as the site publishes it: a novel's every passage with its
    # candidates on one page was 30 MB and seconds to render (bench/novel.py's, 1,464 passages)
    chapters = chapters_of(s.essay, studio.config.chapters)
    chapter = None
    if chapters:
        number = request.args.get("chapter", "1")
        if not number.isdecimal() or not number.isascii() or not 1 <= int(number) <= len(chapters):
            abort(404)
        chapter = chapters[int(number) - 1]
    notices = studio.take_notices(slug)
    splitter = studio.config.sentence_splitter
    v = s.verbosified(splitter)
    passages = [passage_view(s, v, p.key, splitter) for p in (chapter.passages if chapter else s.essay.passages)]
    return render_template("essay.html", **page_context(
        state=s, passages=passages, totals=totals(v, studio.ratio), notices=notices, chapters=chapters or [], chapter=chapter,
        engine_missing=missing, preview_url=f"/preview/essays/{s.slug}/" + (chapter.url if chapter else "")))


def passage_payload(slug: str, key: str, notices: tuple[str, ...] = (), message: str = "") -> dict:
    studio, engine = ctx().studio, ctx().engine
    missing = engine.missing()
    version = studio.version
    s = studio.view(slug)
    splitter = studio.config.sentence_splitter
    v = s.verbosified(splitter)
    view = passage_view(s, v, key, splitter)
    html = render_template("passage.html", p=view, engine_missing=missing)
    t = totals(v, studio.ratio)
    return {"passage": key, "html": html, "ratio": round(t.ratio, 3), "words": t.now, "original": t.original,
            "curated": t.curated, "passages": t.passages, "notices": list(notices), "version": version,
            "reload": bool(notices), "message": message}


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise StudioError("the request's body must be a JSON object")
    return data


def text(data: dict, name: str, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise StudioError(f"'{name}' must be given, as text")
    return value


@views.get("/api/essays/<slug>/passages/<key>")
def passage(slug: str, key: str):
    return jsonify(passage_payload(slug, key))


@views.post("/api/essays/<slug>/decide")
def decide(slug: str):
    c = ctx()
    data = body()
    d = c.studio.decide(slug, text(data, "action"), text(data, "passage"), text(data, "candidate", required=False))
    c.preview.request(c.studio.version)
    return jsonify(passage_payload(slug, d.passage, d.notices, d.message))


@views.post("/api/essays/<slug>/undo")
def undo(slug: str):
    c = ctx()
    d = c.studio.undo(slug)
    if d is None:
        return jsonify({"nothing": "nothing to undo"})
    c.preview.request(c.studio.version)
    return jsonify(passage_payload(slug, d.passage, d.notices))


@views.post("/api/essays/<slug>/more")
def more(slug: str):
    studio, engine = ctx().studio, ctx().engine
    data = body()
    key = text(data, "passage")
    own = {name: number(name, data[name], kind) for name, kind in OWN_PARAMS.items() if data.get(name) not in (None, "")}
    samples = own.pop("samples", engine.request.samples)
    problem = generation_problem({**own, "samples": samples})
    if problem:
        raise StudioError(f"{problem[0]} {problem[1]}")
    s = studio.view(slug)  # the model check and the worker's start happen without the studio's lock
    passage = s.passage(key)
    if passage.problem:  # what generate skips, the studio does not start either
        raise StudioError(f"passage {passage.index + 1} cannot prompt the model and stays as written: {passage.problem}")
    if s.cache_warning:  # its run could not be written: say so before the engine works for nothing
        raise Conflict(f"{s.cache_warning}; fix or move it before asking for more samples")
    missing = engine.missing()
    if missing:
        raise StudioError(missing)
    params = dataclasses.replace(engine.next_params(s.cache.for_passage(key)), **own)
    problem = top_k_problem(params.top_k, engine.vocabulary())
    if problem:
        raise StudioError(f"top_k {problem}")
    job = engine.submit(slug, key, params, samples, essay_path=s.header.path,
                        cache_path=studio.layout.samples(s.slug), site_toml=studio.layout.site_toml)
    return jsonify(job.as_dict())


@views.get("/api/jobs/<job_id>")
def job(job_id: str):
    j = ctx().engine.job(job_id)
    if j is None:
        raise StudioError(f"there is no job {job_id!r}")
    return jsonify(j.as_dict())


@views.get("/api/status")
def status():
    c = ctx()
    return jsonify({"version": c.studio.version, "preview": c.preview.built, "preview_seconds": round(c.preview.seconds, 3),
                    "preview_error": c.preview.error})


@views.get("/static/<name>")
def static_file(name: str):
    path = ctx().static.get(name)
    if path is None:
        abort(404)
    return send_file(path, max_age=0)


@views.get("/preview/", defaults={"sub": ""})
@views.get("/preview/<path:sub>")
def preview_file(sub: str):
    preview = ctx().preview
    path = preview.file(sub)
    if path is not None:
        return send_file(path, max_age=0)
    drawn = preview.animation(sub)
    if drawn is None:
        abort(404)
    return Response(drawn, mimetype="image/gif" if sub.endswith(".gif") else "image/png", headers={"Cache-Control": "no-cache"})


def create_app(studio: Studio, engine: EngineWorker, preview: Preview, *, token: str, hosts: set[str] | None, site_static: Path) -> Flask:
    app = _Flask(__name__, template_folder=str(HERE / "templates"), static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # a decision is a few hundred bytes
    static = {"palette.css": site_static / "palette.css", "style.css": site_static / "style.css", "favicon.svg": site_static / "favicon.svg",
              "studio.css": HERE / "static" / "studio.css", "studio.js": HERE / "static" / "studio.js"}
    app.extensions["studio"] = Context(studio, engine, preview, token, hosts, static)
    app.register_blueprint(views)
    return app


def _error(message: str, status: int):
    if request.path.startswith("/api/") or request.method == "POST":
        return jsonify({"error": message}), status
    return render_template("error.html", message=message, status=status, token="", site=None), status
