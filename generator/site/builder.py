"""The site build: content/ -> output/, incrementally.

Every essay page depends only on its essay, sample cache and picks files plus
the site config, templates and this package's code. Their hashes go into a
manifest beside output/; an essay whose hash is unchanged is neither parsed
nor rendered. Everything is parsed and rendered in memory before the first
write, so bad input stops the build with output/ exactly as it was.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import SiteConfig, load_config, with_base_url
from ..content.layout import ContentLayout
from ..fsutil import digest
from ..picks.resolve import EssayStats
from ..samples.store import content_digest
from . import writer

log = logging.getLogger(__name__)

MANIFEST_VERSION = 5  # 4: provenance names each model from its origin record; 5: books and chapters
PACKAGE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    content: Path
    output: Path
    templates: Path
    project: Path

    @property
    def layout(self) -> ContentLayout:
        return ContentLayout(self.content)


@dataclass(frozen=True)
class Options:
    """How this build differs from the published one: drafts shown, base URL overridden, notes for the artist."""

    drafts: bool = False
    base_url: str | None = None
    defer_animations: bool = False  # the studio's preview: animations drawn when asked for (GifCache's defer)
    artist: bool = False  # serve: pages add what only the artist needs (the command that verbosifies a passage)
    books: tuple[str, ...] = ()  # `book`: "epub", "pdf": each essay's book made, linked from its page, kept while the essay is unchanged
    book_essays: tuple[str, ...] | None = None  # the essays whose books to make (None: every one)
    book_plan: dict = field(default_factory=dict)  # set by build(): slug -> (formats to make, {format: file} kept from before)

    def books_of(self, slug: str) -> tuple[str, ...]:
        return self.books if self.book_essays is None or slug in self.book_essays else ()


@dataclass
class BuildReport:
    essays_rendered: int = 0
    essays_reused: int = 0
    site_pages_rendered: bool = False
    written: int = 0
    removed: int = 0
    warnings: list[str] = field(default_factory=list)
    pending: dict[str, list] = field(default_factory=dict)  # deferred animations: name -> [kind, payload]


def _file_digest(path: Path) -> str:
    try:
        return digest(path.read_bytes())
    except FileNotFoundError:
        return "-"


def _tree_digest(root: Path, pattern: str) -> str:
    parts = [f"{p.relative_to(root).as_posix()}:{_file_digest(p)}" for p in sorted(root.rglob(pattern)) if p.is_file()]
    return digest("\n".join(parts))


def _summary_to_dict(s) -> dict:
    d = asdict(s)
    d["provenance"] = [list(p) for p in s.provenance]
    return d


def _summary_from_dict(d: dict):
    from .render import EssaySummary

    return EssaySummary(
        slug=d["slug"],
        title=d["title"],
        summary=d["summary"],
        date=d["date"],
        order=d["order"],
        stats=EssayStats(**d["stats"]),
        provenance=tuple(tuple(p) for p in d["provenance"]),
        overview=d.get("overview", ""),
        draft=d.get("draft", False),
        chapters=tuple(d.get("chapters", ())),
        exhibit=d.get("exhibit", {}),
    )


def _render_essay(paths: Paths, config: SiteConfig, env, path: Path, options: Options):
    """Parse one essay with its samples and picks; returns (summary, files, warnings, deferred animations)."""
    from ..content.essays import parse_essay
    from ..picks.resolve import verbosify
    from ..picks.store import load_picks
    from ..samples.store import load_cache
    from .exhibition import exhibit_of
    from .chapters import chapters_of
    from .render import EssaySummary, provenance_of, render_chapters, render_essay

    essay = parse_essay(path, passage_size=config.passage_size, splitter=config.sentence_splitter)
    slug = essay.slug
    cache, cache_warning = load_cache(paths.layout.samples(slug), slug)
    picks, pick_warnings = load_picks(paths.layout.picks(slug), slug)
    verbosified = verbosify(essay, cache, picks, config.sentence_splitter)
    warnings = ([cache_warning] if cache_warning else []) + pick_warnings + [str(s) for s in verbosified.stale]
    files: dict[str, bytes] = {}
    pending: dict[str, list] = {}
    animations = _animations(paths, config, verbosified, files, pending, options.defer_animations) if config.gifs else {"passages": {}, "overview": None}
    make, have = options.book_plan.get(slug, ((), {}))
    books = dict(have)  # made before, of the same essay, samples and picks: linked as they are
    if make:
        from ..book.write import book_files

        made = book_files(env, config, verbosified, paths.templates, make)
        files.update(made)
        books.update({f.rsplit(".", 1)[1]: f for f in made})
    chapters = chapters_of(essay, config.chapters)
    if chapters:
        files.update(render_chapters(env, config, verbosified, chapters, animations, artist=options.artist, books=books))
    else:
        files[f"essays/{slug}/index.html"] = render_essay(env, config, verbosified, animations, artist=options.artist, books=books)
    overview = animations["overview"]
    summary = EssaySummary(
        slug=slug,
        title=essay.title,
        summary=essay.summary,
        date=essay.date.isoformat() if essay.date else "",
        order=essay.order,
        stats=verbosified.stats,
        provenance=provenance_of(verbosified),
        overview=f"essays/{slug}/gifs/{overview.name}" if overview else "",
        draft=essay.draft,
        exhibit=exhibit_of(verbosified, picks),
        chapters=tuple(f"essays/{slug}/{c.url}" for c in chapters or ()),
    )
    return summary, files, warnings, pending


def _animations(paths: Paths, config: SiteConfig, verbosified, files: dict[str, bytes], pending: dict[str, list], defer: bool) -> dict:
    """Render (or fetch from the GIF cache) the passage and overview animations into ``files``;
    with ``defer``, those not in the cache go into ``pending`` instead of being drawn."""
    from .gifs import GifCache

    cache = GifCache(writer.gif_cache_dir(paths.output.resolve()), defer=defer)
    slug = verbosified.essay.slug
    out: dict = {"passages": {}, "overview": None}
    rows = []
    for passage in verbosified.essay.passages:
        vp = verbosified.at(passage)
        rows.append((passage.words, vp.words_added))
        if vp.insertions:
            r = cache.passage(passage.text, [i.text for i in vp.insertions], passage.words)
            out["passages"][passage.index] = r
            if r.name not in cache.pending:
                files[f"essays/{slug}/gifs/{r.name}.gif"] = r.gif
                files[f"essays/{slug}/gifs/{r.name}.png"] = r.png
    if any(added for _, added in rows):
        r = cache.overview(verbosified.essay.title, rows)
        out["overview"] = r
        if r.name not in cache.pending:
            files[f"essays/{slug}/gifs/{r.name}.gif"] = r.gif
            files[f"essays/{slug}/gifs/{r.name}.png"] = r.png
    pending.update(cache.pending)
    return out


PER_WORKER = 4  # fewer essays than this per extra process is not worth a fork
SITE_TEMPLATES = ("index.html", "method.html", "explore.html", "alternatives.html", "exhibition.html", "label.html", "404.html", "robots.txt", "sitemap.xml")
_worker_env = None


def _warm(templates: Path, config: SiteConfig) -> None:
    """Import and build what rendering an essay needs: Punkt, Markdown, the essay template."""
    from ..content.essays import markdown_for
    from ..content.sentences import get_splitter

    get_splitter(config.sentence_splitter)
    markdown_for(config.sentence_splitter, config.passage_size)
    _environment(templates).get_template("essay.html")


def _environment(templates: Path):
    """This process's Jinja environment for ``templates`` (templates stay compiled between builds)."""
    global _worker_env
    from .render import environment

    if _worker_env is None or _worker_env.loader.searchpath != [str(templates)]:
        _worker_env = environment(templates)
    return _worker_env


def _render_job(job: tuple[Paths, SiteConfig, Path, Options]):
    """One essay, with this process's warm Jinja environment."""
    paths, config, path, options = job
    _warm(paths.templates, config)
    return _render_essay(paths, config, _worker_env, path, options)


def _render_all(paths: Paths, config: SiteConfig, todo: list[Path], options: Options) -> list:
    """Parse and render essays, on every core when there are enough of them.

    The workers are forked before anything heavy is imported and warm up
    (Punkt, Markdown, the essay template) side by side, while this process
    compiles the site-wide templates it will need afterwards. Results come
    back in input order, so the build stays deterministic.
    """
    workers = min(len(todo) // PER_WORKER, os.cpu_count() or 1)
    jobs = [(paths, config, p, options) for p in todo]
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [_render_job(job) for job in jobs]
    with multiprocessing.get_context("fork").Pool(workers, initializer=_warm, initargs=(paths.templates, config)) as pool:
        pending = pool.map_async(_render_job, jobs, chunksize=max(1, len(jobs) // (workers * 4)))
        site_environment(paths.templates)
        return pending.get()


def site_environment(templates: Path):
    """The Jinja environment for the site-wide pages, their templates compiled."""
    import importlib

    importlib.import_module("generator.picks.exploration")  # what the exploration pages need, loaded while the workers run
    env = _environment(templates)
    for name in SITE_TEMPLATES:
        env.get_template(name)
    return env


def _static_files(paths: Paths, config: SiteConfig) -> dict[str, bytes]:
    files = {".nojekyll": b""}
    static = paths.templates / "static"
    for p in sorted(static.rglob("*")):
        if p.is_file():
            files[f"static/{p.relative_to(static).as_posix()}"] = p.read_bytes()
    if config.cname:
        files["CNAME"] = (config.cname.strip() + "\n").encode()
    return files


def site_config(paths: Paths, options: Options) -> SiteConfig:
    """site.toml with this build's overrides applied (and checked like the file's own values)."""
    config = load_config(paths.layout.site_toml)
    if options.base_url is not None:
        config = with_base_url(config, options.base_url)
    return config


def build(paths: Paths, options: Options = Options()) -> BuildReport:
    out = writer.check_output_dir(
        paths.output,
        project=paths.project,
        protected=[paths.content, paths.templates, PACKAGE],
    )
    layout = paths.layout
    config = site_config(paths, options)
    if not config.base_url:
        log.info("no base URL: 404.html links assume the site is served at its domain's root; a project site under a sub-path needs --base-url")
    # what every output depends on; the pages also on the build's own options (a book does not)
    inputs = digest("|".join([str(MANIFEST_VERSION), f"base_url={config.base_url}", _file_digest(layout.site_toml), _tree_digest(paths.templates, "*"),
                              _tree_digest(PACKAGE, "*.py"), _tree_digest(PACKAGE, "*.json")]))
    base = digest("|".join([inputs, f"drafts={options.drafts}", f"artist={options.artist}"]))
    old = writer.load_manifest(out)
    old_essays = old.get("essays", {}) if old.get("base") == base else {}
    any_essays = old.get("essays", {})  # a book outlives a build with other options (serve, --drafts)
    plan: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}
    report = BuildReport()
    files: dict[str, bytes] = {}
    keep: set[str] = set()
    summaries = []
    new_essays: dict[str, dict] = {}

    todo: list[tuple[Path, str, str]] = []  # (essay file, slug, fingerprint)
    books_keys: dict[str, str] = {}
    for header in layout.essays(drafts=options.drafts):
        path, slug = header.path, header.slug
        essay_inputs = "|".join([path.name, _file_digest(path), content_digest(layout.samples(slug)), _file_digest(layout.picks(slug))])
        fp = digest(base + "|" + essay_inputs)
        book_key = digest(inputs + "|" + essay_inputs)
        prev = old_essays.get(slug)
        drawn = options.defer_animations or not prev or not prev.get("pending")  # a full build draws what a preview left
        # a book is one more output of its essay: kept, and linked, while what it was made of is unchanged
        earlier = any_essays.get(slug) or {}
        made = earlier.get("books") if earlier.get("book_key") == book_key and isinstance(earlier.get("books"), dict) else {}
        have = {fmt: f for fmt, f in made.items() if (out / f).is_file()}
        make = tuple(fmt for fmt in options.books_of(slug) if fmt not in have)
        keep.update(have.values())
        if prev and prev.get("fp") == fp and drawn and not make and set(prev.get("books") or {}) == set(have) and all((out / f).is_file() for f in prev["files"]):
            summaries.append(_summary_from_dict(prev["summary"]))
            keep.update(prev["files"])
            report.warnings += prev["warnings"]
            report.pending.update(prev.get("pending", {}))
            new_essays[slug] = prev
            report.essays_reused += 1
            continue
        todo.append((path, slug, fp))
        plan[slug] = (make, have)
        books_keys[slug] = book_key
        summaries.append(None)  # filled in below, keeping essay order
        new_essays[slug] = {}

    if todo:
        results = iter(_render_all(paths, config, [p for p, _, _ in todo], dataclasses.replace(options, book_plan=plan)))
        fps = {slug: fp for _, slug, fp in todo}
        for i, s in enumerate(summaries):
            if s is not None:
                continue
            summary, essay_out, warnings, pending = next(results)
            summaries[i] = summary
            files.update(essay_out)
            report.warnings += warnings
            report.pending.update(pending)
            books = {**plan[summary.slug][1], **{f.rsplit(".", 1)[1]: f for f in essay_out if f.startswith("book/")}}
            new_essays[summary.slug] = {"fp": fps[summary.slug], "files": sorted(essay_out), "summary": _summary_to_dict(summary), "warnings": warnings,
                                        "books": books, "book_key": books_keys[summary.slug]}
            if pending:
                new_essays[summary.slug]["pending"] = pending
            report.essays_rendered += 1

    explore_files = layout.explore_files()
    site_fp = digest(
        base
        + json.dumps([_summary_to_dict(s) for s in summaries], sort_keys=True)
        + "|".join(f"{p.name}:{_file_digest(p)}" for p in explore_files)
    )
    old_site_files = old.get("site_files", [])
    if old.get("site_fp") == site_fp and old_site_files and all((out / f).is_file() for f in old_site_files):
        keep.update(old_site_files)
        site_files = old_site_files
    else:
        from .render import render_site_pages

        env = site_environment(paths.templates)

        statement = ""
        if config.statement:
            import markdown

            statement = markdown.markdown(config.statement, output_format="html")
        from ..samples.store import load_cache

        explore_caches = []
        for p in explore_files:
            cache, warning = load_cache(p, p.stem)
            if warning:
                report.warnings.append(warning)
            explore_caches.append(cache)
        from .exhibition import loop_essays

        loop = loop_essays(config, summaries, layout.site_toml, {h.slug for h in layout.essays(drafts=True) if h.draft})
        site = render_site_pages(env, config, summaries, statement, explore_caches, loop)
        site.update(_static_files(paths, config))
        files.update(site)
        site_files = sorted(site)
        report.site_pages_rendered = True

    for w in report.warnings:
        log.warning("%s", w)
    report.written, report.removed = writer.apply(out, files, keep)
    writer.save_manifest(
        out,
        {"version": MANIFEST_VERSION, "base": base, "essays": new_essays, "site_fp": site_fp, "site_files": site_files},
    )
    return report
