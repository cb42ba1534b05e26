"""The book as an EPUB 3, built with ebooklib: a title page with the contents, a file per chapter,
the navigation document and NCX, the model's sentences in ``<ins>`` with the book's style.
``tests/test_book.py`` holds it to epubcheck."""

from __future__ import annotations

import mimetypes
import tempfile
from pathlib import Path

import jinja2

from ..fsutil import digest
from ..picks.resolve import VerbosifiedEssay
from .text import Book, chapter_pages, with_images


def epub_bytes(env: jinja2.Environment, book: Book, verbosified: VerbosifiedEssay, templates: Path) -> bytes:
    from ebooklib import epub

    chapters = chapter_pages(env, book, verbosified, lambda c: f"chapter-{c.number}.xhtml")
    out = epub.EpubBook()
    out.set_identifier("urn:verbosified-space-rovers:" + book.slug + ":" + digest("".join(chapters.values())))
    out.set_title(book.title)
    out.set_language(book.language)
    if book.author:
        out.add_author(book.author)
    style = epub.EpubItem(uid="style", file_name="style/book.css", media_type="text/css", content=(templates / "book.css").read_bytes())
    out.add_item(style)

    def page(title: str, file_name: str, html: str) -> epub.EpubHtml:
        item = epub.EpubHtml(title=title, file_name=file_name, lang=book.language)
        item.content = html
        item.add_item(style)
        out.add_item(item)
        return item

    images: dict[str, Path] = {}
    title = page("Title page", "title.xhtml", env.get_template("book_title.html").render(book=book, link=lambda c: f"chapter-{c.number}.xhtml"))
    items = []
    for chapter in book.chapters:
        html, found = with_images(chapters[f"chapter-{chapter.number}.xhtml"], templates, lambda name, _: f"images/{name}")
        images.update(found)
        items.append(page(chapter.title, f"chapter-{chapter.number}.xhtml", html))
    for name, file in sorted(images.items()):
        out.add_item(epub.EpubItem(uid=f"image-{name}", file_name=f"images/{name}", media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
                                   content=file.read_bytes()))
    out.toc = items
    out.add_item(epub.EpubNcx())
    out.add_item(epub.EpubNav())
    out.spine = [title, "nav", *items]
    with tempfile.TemporaryDirectory(prefix="vsr-book-") as tmp:
        path = Path(tmp) / f"{book.slug}.epub"
        epub.write_epub(str(path), out, {})
        return path.read_bytes()
