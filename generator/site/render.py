"""Jinja2 rendering: pure functions from view data to page bytes.

Autoescaping is on for every template: generated text is untrusted (GPT-2 can
write ``<script>``) and reaches HTML only through escaping. Only the essays'
own Markdown is marked safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markupsafe

from ..config import SiteConfig
from ..picks.resolve import EssayStats, VerbosifiedEssay
from ..samples.cache import Run
from ..samples.origin import model_label

def model_name(run: Run) -> str:
    """The model behind ``run`` as every page names it: from the record of where its weights came
    from (``samples.origin``), never from its folder's name."""
    return model_label(run.model, run.origin)


@dataclass(frozen=True)
class EssaySummary:
    """What the landing, method and sitemap pages need of one essay; kept in the
    build manifest so unchanged essays are not parsed again."""

    slug: str
    title: str
    summary: str
    date: str
    order: int
    stats: EssayStats
    provenance: tuple[tuple[str, str, str, int, int, int], ...]  # (model's label, its origin's source or "", recipe, passages, runs, samples)
    overview: str = ""  # path of the essay's overview animation (without .gif/.png), relative to the site root
    draft: bool = False  # rendered only by serve and build --drafts, never listed in the sitemap
    exhibit: dict = field(default_factory=dict)  # the loop's passages and the label's records (exhibition.exhibit_of)
    chapters: tuple[str, ...] = ()  # a long essay's chapter pages (their paths from the site's root), for the sitemap

    @property
    def sort_key(self) -> tuple:
        return (self.order, self.date, self.slug)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


def show_controls(value):
    """Control characters cannot appear in HTML; a model can emit them. Show
    them as their visible pictures (U+2405 for U+0005) instead of dropping them."""
    if isinstance(value, str) and _CONTROL.search(value):
        fixed = _CONTROL.sub(_visible, value)
        return markupsafe.Markup(fixed) if isinstance(value, markupsafe.Markup) else fixed
    return value


def environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        finalize=show_controls,
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["model_name"] = model_name
    return env


def _page(env: jinja2.Environment, template: str, site: SiteConfig, page_path: str, root: str, **ctx) -> bytes:
    html = env.get_template(template).render(site=site, page_path=page_path, root=root, **ctx)
    return html.encode("utf-8")


def provenance_of(verbosified: VerbosifiedEssay) -> tuple[tuple[str, str, str, int, int, int], ...]:
    """(model's label, its origin's source or "" when not recorded, recipe, passages, runs, samples)
    for the runs behind one essay."""
    groups: dict[tuple[str, str, str], list] = {}
    for vp in verbosified.passages.values():
        seen = set()
        for run in vp.runs:
            key = (model_name(run), run.origin.source if run.origin else "", run.recipe)
            g = groups.setdefault(key, [0, 0, 0])
            if key not in seen:
                g[0] += 1
                seen.add(key)
            g[1] += 1
            g[2] += len(run.samples)
    return tuple((*k, *g) for k, g in sorted(groups.items()))


def render_essay(env: jinja2.Environment, site: SiteConfig, verbosified: VerbosifiedEssay, animations: dict | None = None, *, artist: bool = False,
                 books: dict[str, str] | None = None) -> bytes:
    """The essay's page; ``artist`` (serve's pages, never the published site nor the
    studio's preview of it) adds what only the artist needs: the command that verbosifies a passage.
    ``books``: its book's files, by format ("epub" -> "book/<slug>.epub", from the site's root)."""
    essay = verbosified.essay
    return _page(
        env,
        "essay.html",
        site,
        f"essays/{essay.slug}/",
        "../../",
        essay=essay,
        verbosified=verbosified,
        stats=verbosified.stats,
        animations=animations or {"passages": {}, "overview": None},
        artist=artist,
        books=books or {},
    )


def render_chapters(env: jinja2.Environment, site: SiteConfig, verbosified: VerbosifiedEssay, chapters: list, animations: dict | None = None,
                    *, artist: bool = False, books: dict[str, str] | None = None) -> dict[str, bytes]:
    """A long essay's pages (``chapters.chapters_of``): its contents at ``essays/<slug>/`` and each
    chapter at ``essays/<slug>/<n>/``, the previous and next linked, links within the text
    pointing at the chapter that holds their target (``chapters.relink``)."""
    from .chapters import relink

    essay = verbosified.essay
    base = f"essays/{essay.slug}/"
    animations = animations or {"passages": {}, "overview": None}
    words = [(sum(p.words for p in c.passages), sum(p.words + verbosified.at(p).words_added for p in c.passages)) for c in chapters]
    contents = _page(env, "contents.html", site, base, "../../", essay=essay, verbosified=verbosified, stats=verbosified.stats,
                     animations=animations, chapters=chapters, chapter_words=words, books=books or {})
    pages = {}
    for i, chapter in enumerate(chapters):
        pages[f"{chapter.url}index.html"] = _page(
            env, "chapter.html", site, base + chapter.url, "../../../", essay=essay, verbosified=verbosified, stats=verbosified.stats,
            animations=animations, chapter=chapter, chapters=chapters, previous=chapters[i - 1] if i else None,
            next=chapters[i + 1] if i + 1 < len(chapters) else None, artist=artist,
        ).decode("utf-8")
    out = {base + "index.html": contents}
    out.update({base + path: html.encode("utf-8") for path, html in relink(pages).items()})
    return out


def _totals(essays: list[EssaySummary]) -> EssayStats:
    s = [e.stats for e in essays]
    return EssayStats(
        slug="",
        title="",
        passages=sum(x.passages for x in s),
        passages_with_samples=sum(x.passages_with_samples for x in s),
        passages_with_picks=sum(x.passages_with_picks for x in s),
        original_words=sum(x.original_words for x in s),
        verbosified_words=sum(x.verbosified_words for x in s),
        stale_picks=sum(x.stale_picks for x in s),
    )


def _provenance(essays: list[EssaySummary]) -> list[dict]:
    rows: dict[tuple[str, str, str], dict] = {}
    for e in essays:
        for label, source, recipe, passages, runs, samples in e.provenance:
            row = rows.setdefault((label, source, recipe), {"label": label, "source": source, "recipe": recipe, "passages": 0, "runs": 0, "samples": 0})
            row["passages"] += passages
            row["runs"] += runs
            row["samples"] += samples
    return [rows[k] for k in sorted(rows)]


def _stylesheet(env: jinja2.Environment) -> str:
    """The palette and the site's style, for a page that carries them inline."""
    return "".join(env.loader.get_source(env, f"static/{name}")[0] for name in ("palette.css", "style.css"))


def render_site_pages(env: jinja2.Environment, site: SiteConfig, essays: list[EssaySummary], statement_html: str,
                      explore_caches: list | None = None, loop: list[EssaySummary] | None = None) -> dict[str, bytes]:
    """The pages that depend on every essay (landing, method, 404, sitemap,
    robots, the gallery's loop and label) and on the exploration (exploration,
    alternative results). ``loop``: the essays the exhibition plays, in order."""
    from ..picks.exploration import alternatives, explored
    from .exhibition import exhibition_json, label_year, medium, qr_svg

    explore_caches = explore_caches or []
    essays = sorted(essays, key=lambda e: e.sort_key)
    provenance = _provenance(essays)
    pages = {
        "index.html": _page(env, "index.html", site, "", "", essays=essays, totals=_totals(essays), statement_html=statement_html),
        "method/index.html": _page(
            env,
            "method.html",
            site,
            "method/",
            "../",
            gen=site.generation,
            provenance=provenance,
            sources={r["source"] for r in provenance},
        ),
        "explore/index.html": _page(env, "explore.html", site, "explore/", "../", gen=site.generation, passages=explored(explore_caches)),
        "alternatives/index.html": _page(env, "alternatives.html", site, "alternatives/", "../", alternatives=alternatives(explore_caches)),
        "exhibition/index.html": _page(
            env, "exhibition.html", site, "exhibition/", "../",
            models=list(dict.fromkeys(r["label"] for r in provenance)),
            sources={r["source"] for r in provenance},
        ),
        "exhibition/passages.json": exhibition_json(site, essays if loop is None else loop),
        "label/index.html": _page(
            env, "label.html", site, "label/", "../",
            totals=_totals([e for e in essays if not e.draft]),
            medium=medium(site, essays, provenance),
            year=label_year(site, essays),
            qr=qr_svg(site.absolute_base, f"QR code to {site.absolute_base}") if site.absolute_base else "",
        ),
        # GitHub Pages serves 404.html at whatever URL was missing: only root-relative URLs hold there.
        "404.html": _page(env, "404.html", site, "404.html", site.base_path, inline_css=_stylesheet(env)),
        "robots.txt": env.get_template("robots.txt").render(site=site).encode("utf-8"),
    }
    if site.absolute_base:
        urls = ["", "method/", "explore/", "alternatives/"] + [u for e in essays if not e.draft for u in (f"essays/{e.slug}/", *e.chapters)]
        pages["sitemap.xml"] = env.get_template("sitemap.xml").render(site=site, urls=urls).encode("utf-8")
    return pages
