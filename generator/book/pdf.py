"""The book as a PDF: one HTML document with a print stylesheet (a page number at the foot of
every page, each chapter from a new page, the model's sentences coloured and underlined),
printed by headless Chromium, the browser the gallery's kiosk already uses."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import jinja2

from ..errors import InputError
from ..picks.resolve import VerbosifiedEssay
from .text import Book, chapter_bodies, with_images

# Chromium's own headless flags for a machine with no network and no desktop: no first-run
# dialogs, no background fetches, a fresh profile each time (made by the caller).
FLAGS = ("--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw")
TIMEOUT_SECONDS = 300


def print_html(env: jinja2.Environment, book: Book, verbosified: VerbosifiedEssay, templates: Path) -> str:
    """The book as one HTML document, ready to print: images by ``file://`` from the site's static files."""
    # every chapter a section of this one document: a link to an id anywhere in the text finds it
    bodies = [with_images(html, templates, lambda _, file: file.resolve().as_uri())[0] for html in chapter_bodies(env, book, verbosified)]
    return env.get_template("book_print.html").render(book=book, css=(templates / "book.css").read_text("utf-8"), chapters=bodies,
                                                      link=lambda c: f"#chapter-{c.number}")


def pdf_bytes(env: jinja2.Environment, book: Book, verbosified: VerbosifiedEssay, templates: Path, browser: str) -> bytes:
    html = print_html(env, book, verbosified, templates)
    with tempfile.TemporaryDirectory(prefix="vsr-book-") as tmp:
        source, target = Path(tmp) / "book.html", Path(tmp) / "book.pdf"
        source.write_text(html, "utf-8")
        sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium will not start its sandbox as root
        cmd = [browser, *FLAGS, *sandbox, f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={target}", source.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise InputError(None, f"{browser} did not print the book of {book.slug!r} within {TIMEOUT_SECONDS} s") from None
        if not target.is_file() or target.stat().st_size == 0:
            raise InputError(None, f"{browser} printed no PDF of {book.slug!r} (exit {done.returncode}): {done.stderr.strip()[-500:]}")
        return target.read_bytes()
