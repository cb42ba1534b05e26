"""The books of one essay, as files of the site (``book/<slug>.epub``, ``book/<slug>.pdf``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import jinja2

from ..config import SiteConfig
from ..picks.resolve import VerbosifiedEssay
from .text import book_of

log = logging.getLogger(__name__)
FORMATS = ("epub", "pdf")


def book_files(env: jinja2.Environment, site: SiteConfig, verbosified: VerbosifiedEssay, templates: Path, formats: tuple[str, ...],
               browser: str | None = None) -> dict[str, bytes]:
    """The essay's book in each of ``formats``, by path in the site. The PDF needs Chromium
    (``browser``, or the first on PATH)."""
    book = book_of(verbosified, site)
    out = {}
    for fmt in formats:
        start = time.perf_counter()
        if fmt == "epub":
            from .epub import epub_bytes

            data = epub_bytes(env, book, verbosified, templates)
        elif fmt == "pdf":
            from ..gallery.kiosk import find_browser
            from .pdf import pdf_bytes

            data = pdf_bytes(env, book, verbosified, templates, browser or find_browser(None))
        else:
            raise ValueError(f"no book format {fmt!r} (known: {', '.join(FORMATS)})")
        out[f"book/{book.slug}.{fmt}"] = data
        log.info("book/%s.%s: %d chapter(s), %.0f kB, %.1f s", book.slug, fmt, len(book.chapters), len(data) / 1e3, time.perf_counter() - start)
    return out
