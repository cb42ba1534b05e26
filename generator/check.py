"""`python build.py check`: every validation the build does, and links, without writing anything.

Errors are what would stop the build or publish something broken (a bad
site.toml or meta-data header, two essays with one slug, a sample cache or
picks file that cannot be read, a link or image that points at nothing);
warnings are what the build shows anyway (stale picks, a malformed pick, a
passage that cannot prompt the model);
notes say which cached runs would not be made again here, and why (their
model is not here, or they were made on another platform).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from .config import SiteConfig, load_config
from .content.essays import Essay, parse_essay
from .content.layout import ContentLayout
from .errors import InputError

_URL = re.compile(r"""<(?:a|img)\b[^>]*?\s(?:href|src)="([^"]*)\"""")
SITE_PAGES = ("", "method/", "explore/", "alternatives/", "exhibition/", "label/", "404.html", "robots.txt", "sitemap.xml")


@dataclass(frozen=True)
class Problem:
    message: str
    path: Path | None = None
    line: int | None = None
    error: bool = True
    note: bool = False  # provenance: neither wrong nor a risk to the site

    def __str__(self) -> str:
        return str(InputError(self.path, self.message, self.line))

    @classmethod
    def of(cls, exc: InputError) -> Problem:
        return cls(exc.message, exc.path, exc.line)


def _line_of(path: Path, needle: str) -> int | None:
    text = path.read_text("utf-8", errors="replace")
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def _paragraph_line(path: Path, text: str) -> int | None:
    """The line of a paragraph that is ``text`` alone (a passage that is its whole paragraph)."""
    m = re.search(rf"^[ \t]*{re.escape(text)}[ \t]*$", path.read_text("utf-8", errors="replace"), re.MULTILINE)
    return m.string.count("\n", 0, m.start()) + 1 if m else None


def site_urls(essays: list[Essay], templates: Path) -> set[str]:
    """Every path the built site holds, relative to its root."""
    static = templates / "static"
    files = {f"static/{p.relative_to(static).as_posix()}" for p in static.rglob("*") if p.is_file()}
    return set(SITE_PAGES) | {f"essays/{e.slug}/" for e in essays} | files


def broken_links(essay: Essay, urls: set[str]) -> list[Problem]:
    """Links and images in the essay's own Markdown that resolve to no page or file of the site."""
    page = f"https://site.invalid/essays/{essay.slug}/"
    parts = [b.html for b in essay.blocks] + [p.html for p in essay.passages]
    out = []
    for ref in sorted({html.unescape(m) for part in parts for m in _URL.findall(part)}):
        split = urlsplit(ref)
        if split.scheme or split.netloc or not split.path:  # external, or a fragment of this page
            continue
        target = urlsplit(urljoin(page, ref)).path.lstrip("/")
        if target in urls or target + "/" in urls or target.removesuffix("index.html") in urls:
            continue
        out.append(Problem(f"link or image {ref!r} points at nothing in the site", essay.path, _line_of(essay.path, ref)))
    return out


def _essay_files(layout: ContentLayout, config: SiteConfig, problems: list[Problem], models: Path | None) -> list[Essay]:
    from .picks.resolve import verbosify
    from .picks.store import load_picks
    from .samples.store import load_cache
    from .samples.provenance import provenance_notes

    essays = []
    for path in layout.essay_paths():
        try:
            essays.append(parse_essay(path, passage_size=config.passage_size, splitter=config.sentence_splitter))
        except InputError as exc:
            problems.append(Problem.of(exc))
    try:
        layout.essays()  # the listing rule itself: slugs, duplicates
    except InputError as exc:
        if all(p.message != exc.message for p in problems):
            problems.append(Problem.of(exc))
    seen_models: dict = {}
    for essay in essays:
        cache, warning = load_cache(layout.samples(essay.slug), essay.slug)
        if warning:
            problems.append(Problem(warning))
        if models is not None:
            problems += [Problem(n, error=False, note=True) for n in provenance_notes(layout.samples(essay.slug), cache, models, models=seen_models)]
        picks, warnings = load_picks(layout.picks(essay.slug), essay.slug)
        for w in warnings:
            problems.append(Problem(w, error="unreadable" in w))
        for stale in verbosify(essay, cache, picks, config.sentence_splitter).stale:
            problems.append(Problem(str(stale), error=False))
        for p in essay.passages:
            if p.problem:
                problems.append(Problem(f"essay '{essay.slug}', passage {p.index + 1} ({p.key}) cannot prompt the model, so generate skips it "
                                        f"and it stays as written: {p.problem}", essay.path, _paragraph_line(essay.path, p.text), error=False))
    return essays


def check(layout: ContentLayout, *, templates: Path, models: Path | None = None) -> list[Problem]:
    """Every problem, in order; with ``models`` (the models folder), provenance notes too."""
    problems: list[Problem] = []
    try:
        config = load_config(layout.site_toml)
    except InputError as exc:
        problems.append(Problem.of(exc))
        config = SiteConfig()
    essays = _essay_files(layout, config, problems, models)
    urls = site_urls(essays, templates)
    for essay in essays:
        problems += broken_links(essay, urls)
    for path in layout.explore_files():
        from .samples.store import load_cache

        _, warning = load_cache(path, path.stem)
        if warning:
            problems.append(Problem(warning))
    problems += gallery_problems(layout, config, essays)
    return problems


def gallery_problems(layout: ContentLayout, config: SiteConfig, essays: list[Essay]) -> list[Problem]:
    """[exhibition] essays and [station] examples that name no essay or passage here, and a blocklist that is not there."""
    from .config import named_essays_problems

    passages = {e.slug: len(e.passages) for e in essays if not e.draft}
    named = named_essays_problems(config, passages, {e.slug for e in essays if e.draft})
    out = [Problem(why, layout.site_toml, _line_of(layout.site_toml, entry)) for entry, why in named]
    if config.station.blocklist:
        try:
            path = layout.content_file(config.station.blocklist, "station.blocklist")
            if not path.is_file():
                out.append(Problem(f"station.blocklist names {config.station.blocklist!r}, which is not there", layout.site_toml,
                                   _line_of(layout.site_toml, "blocklist")))
        except InputError as exc:
            out.append(Problem.of(exc))
    return out
