"""What a book holds: the verbosified text in chapters, and a title page that names the model and
the recipe from the runs' records."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ..config import ChapterSettings, SiteConfig
from ..picks.resolve import EssayStats, VerbosifiedEssay
from ..site.chapters import Chapter, chapters_of, relink
from ..site.render import model_name


@dataclass(frozen=True)
class Book:
    slug: str
    title: str
    author: str
    language: str
    site: str  # where the piece lives online ('' when base_url is unset)
    stats: EssayStats
    medium: tuple[str, ...]  # a line per model and recipe behind the sentences, from the records
    chapters: tuple[Chapter, ...]


def medium_lines(verbosified: VerbosifiedEssay) -> tuple[str, ...]:
    """How the inserted sentences were made, a line per model, recipe and sampling parameters."""
    seen: dict[tuple, int] = {}
    for vp in verbosified.passages.values():
        for ins in vp.insertions:
            p = ins.run.params
            key = (model_name(ins.run), ins.run.recipe, p.finetune_steps, p.train_on, p.temperature, p.top_k)
            seen[key] = seen.get(key, 0) + 1
    lines = []
    for (model, recipe, steps, train_on, temperature, top_k), n in seen.items():
        tuning = f"fine-tuned for {steps} step{'s' if steps != 1 else ''} on each passage ({train_on})" if steps else "not fine-tuned"
        lines.append(f"{n:,} sentence{'s' if n != 1 else ''} by {model}, {recipe} recipe: {tuning}, "
                     f"then sampled at temperature {temperature:g}, top_k {top_k}, the passage as its prompt.")
    return tuple(lines) or ("No sentence has been added yet: this is the essay as written.",)


def book_of(verbosified: VerbosifiedEssay, site: SiteConfig) -> Book:
    """The essay's book: chaptered at its ``##`` headings (and every ``[chapters] every`` passages
    in a long part), whatever its length."""
    essay = verbosified.essay
    chapters = chapters_of(essay, ChapterSettings(after=0, every=site.chapters.every)) or []
    return Book(essay.slug, essay.title, essay.author or site.author, site.language, site.absolute_base, verbosified.stats,
                medium_lines(verbosified), tuple(chapters))


def chapter_bodies(env: jinja2.Environment, book: Book, verbosified: VerbosifiedEssay) -> list[str]:
    """Each chapter's body (``book_chapter.html``), in order."""
    template = env.get_template("book_chapter.html")
    return [template.render(chapter=c, verbosified=verbosified) for c in book.chapters]


def chapter_pages(env: jinja2.Environment, book: Book, verbosified: VerbosifiedEssay, name: Callable[[Chapter], str]) -> dict[str, str]:
    """Each chapter's body as a file of its own, named ``name(chapter)``, a link to an id in another
    chapter pointing there (``site.chapters.relink``)."""
    pages = relink(dict(zip((name(c) for c in book.chapters), chapter_bodies(env, book, verbosified))), lambda home, ident: f"{home}#{ident}")
    defined = {ident for html in pages.values() for ident in _ID.findall(html)}

    def unlink(m: re.Match) -> str:  # a link to no id in the book (the essay's own, broken): its text, as a reader of the book can follow nothing else
        return m.group(0) if m.group(1) in defined else m.group(2)

    return {name: _LOCAL_LINK.sub(unlink, html) for name, html in pages.items()}


_ID = re.compile(r'\sid="([^"]+)"')
_LOCAL_LINK = re.compile(r'<a href="#([^"]+)">(.*?)</a>', re.S)
_SRC = re.compile(r'(<img\b[^>]*\bsrc=")([^"]+)(")')


def with_images(html: str, templates: Path, src_for: Callable[[str, Path], str]) -> tuple[str, dict[str, Path]]:
    """``html`` with each image the essay shows from the site (``static/…``, the only place an
    essay's image may point: ``check``) given the source ``src_for(its name, its file)``; and those
    files by name. An image that is not the site's is left as it is."""
    found: dict[str, Path] = {}

    def fix(m: re.Match) -> str:
        path = posixpath.normpath(posixpath.join("essays/slug/", m.group(2)))  # where the essay's page sits in the site
        if not path.startswith("static/"):
            return m.group(0)
        file = templates / path
        if not file.is_file():
            return m.group(0)
        name = path.removeprefix("static/").replace("/", "-")
        found[name] = file
        return m.group(1) + src_for(name, file) + m.group(3)

    return _SRC.sub(fix, html), found
