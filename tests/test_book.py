"""`python build.py book` (issue 28): each essay as an EPUB that passes epubcheck and a PDF printed by
Chromium whose text holds every sentence the model wrote, both linked from the essay's page and
kept by later builds while the essay is unchanged."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from generator.config import load_config
from generator.content.essays import parse_essay
from generator.content.layout import ContentLayout
from generator.picks.resolve import verbosify
from generator.picks.store import load_picks
from generator.samples.store import load_cache
from tests.conftest import ROOT, run_cli


@pytest.fixture(autouse=True)
def _book_tools():
    """Not a skip: the README's test command installs them (tests/system-packages.sh)."""
    assert shutil.which("pdftotext") and Path("/usr/share/java/epubcheck.jar").is_file(), \
        "sh tests/system-packages.sh installs epubcheck and poppler-utils"


def _insertions(content: Path) -> dict[str, list[str]]:
    """Every sentence the model wrote, as the site shows it, by essay."""
    layout = ContentLayout(content)
    config = load_config(layout.site_toml)
    out = {}
    for h in layout.essays():
        essay = parse_essay(h.path, passage_size=config.passage_size, splitter=config.sentence_splitter)
        verbosified = verbosify(essay, load_cache(layout.samples(h.slug), h.slug)[0], load_picks(layout.picks(h.slug), h.slug)[0], config.sentence_splitter)
        out[h.slug] = [i.text for vp in verbosified.passages.values() for i in vp.insertions]
    return out


def _epubcheck(path: Path) -> str:
    done = subprocess.run(["java", "-jar", "/usr/share/java/epubcheck.jar", str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _words(text: str) -> str:
    """Text as words, for finding a sentence in a PDF's: a word broken at its own hyphen at a line's
    end comes back from pdftotext without it, so hyphens are left out on both sides."""
    return " ".join(text.replace("-", "").split())


@pytest.fixture
def shelf(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the committed exhibit (the demo model's real samples) and its site with books."""
    content, out = tmp_path / "content", tmp_path / "out"
    shutil.copytree(ROOT / "content", content, ignore=shutil.ignore_patterns(".*.lock"))
    assert run_cli("book", "--content", str(content), "--output", str(out), "-q") == 0
    return content, out


def test_every_essay_gets_an_epub_that_passes_epubcheck_and_a_pdf_holding_every_inserted_sentence(shelf):
    content, out = shelf
    inserted = _insertions(content)
    assert sum(len(v) for v in inserted.values()) > 50
    for slug, sentences in inserted.items():
        epub = out / "book" / f"{slug}.epub"
        assert "No errors or warnings detected" in _epubcheck(epub)
        with zipfile.ZipFile(epub) as z:
            chapters = "".join(z.read(n).decode() for n in sorted(z.namelist()) if re.search(r"chapter-\d+\.xhtml$", n))
            title = z.read("EPUB/title.xhtml").decode()
        assert len(re.findall(r"<ins>", chapters)) == len(sentences)  # the model's sentences marked, each once
        assert "demo model “demo” (a small GPT-2 trained here, not OpenAI’s GPT-2), fast recipe" in title  # named from the records
        pdf = out / "book" / f"{slug}.pdf"
        pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout).group(1))
        assert pages > 1
        printed = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        numbers = [line for line in printed.splitlines() if line.strip("\f ").isdigit()]
        assert len(numbers) >= pages - 1  # a number at the foot of every page but the title page
        text = _words("\n".join(line for line in printed.splitlines() if not line.strip("\f ").isdigit()))  # a sentence may cross a page
        missing = [s for s in sentences if _words(s) not in text]
        assert missing == [], missing[:3]
    page = (out / "essays" / "space-rovers" / "index.html").read_text()
    assert 'href="../../book/space-rovers.epub"' in page and 'href="../../book/space-rovers.pdf"' in page


def test_a_later_build_keeps_the_books_until_the_essay_changes(shelf):
    content, out = shelf
    books = {p.name: p.read_bytes() for p in (out / "book").iterdir()}
    assert run_cli("--content", str(content), "--output", str(out), "-q") == 0  # the plain build: nothing changed
    assert run_cli("--content", str(content), "--output", str(out), "--drafts", "-q") == 0  # other options (as serve's): pages again, books kept
    assert run_cli("book", "--content", str(content), "--output", str(out), "--format", "pdf", "-q") == 0  # one format again: the other stays
    assert {p.name: p.read_bytes() for p in (out / "book").iterdir()} == books
    assert (out / "book" / "space-rovers.epub").is_file() and 'book/space-rovers.pdf"' in (out / "essays" / "space-rovers" / "index.html").read_text()
    assert 'book/space-rovers.epub"' in (out / "essays" / "space-rovers" / "index.html").read_text()
    essay = content / "essays" / "space-rovers.md"
    essay.write_text(essay.read_text() + "\nA new closing line was written. It changes the essay. It is the end.\n")
    assert run_cli("--content", str(content), "--output", str(out), "-q") == 0
    assert not (out / "book" / "space-rovers.epub").exists() and not (out / "book" / "space-rovers.pdf").exists()  # stale: gone, not linked
    assert "book/space-rovers" not in (out / "essays" / "space-rovers" / "index.html").read_text()
    assert (out / "book" / "more-is-more.epub").is_file()  # the unchanged essay's stays
    # asked again, for the changed essay alone, in one format: made, though its page was otherwise up to date
    assert run_cli("book", "--content", str(content), "--output", str(out), "--essay", "space-rovers", "--format", "epub", "-q") == 0
    page = (out / "essays" / "space-rovers" / "index.html").read_text()
    assert (out / "book" / "space-rovers.epub").is_file() and 'book/space-rovers.epub"' in page and "space-rovers.pdf" not in page
    assert (out / "book" / "more-is-more.pdf").is_file()  # the other essay's books untouched


def test_the_essays_own_markup_links_and_images_and_escaped_samples_make_a_valid_epub(exhibit, tmp_path):
    shutil.copy(ROOT / "tests" / "fixtures" / "writing" / "essays" / "writing.md", exhibit / "essays")
    with (exhibit / "site.toml").open("a") as toml:  # the book's chapters of two passages: a footnote's mark and its note apart
        toml.write("\n[chapters]\nevery = 2\n")
    out = tmp_path / "out"
    assert run_cli("book", "--content", str(exhibit), "--output", str(out), "--format", "epub", "-q") == 0
    assert not (out / "book" / "alpha.pdf").exists()
    for slug in ("alpha", "writing"):
        assert "No errors or warnings detected" in _epubcheck(out / "book" / f"{slug}.epub")
    with zipfile.ZipFile(out / "book" / "alpha.epub") as z:
        names = z.namelist()
        text = "".join(z.read(n).decode() for n in names if n.endswith(".xhtml"))
    assert "EPUB/images/favicon.svg" in names and 'src="images/favicon.svg"' in text  # the essay's image, in the book
    assert "<script>" not in text and "&lt;" in text  # a sample's markup is text
    with zipfile.ZipFile(out / "book" / "writing.epub") as z:
        chapters = {n: z.read(n).decode() for n in z.namelist() if n.endswith(".xhtml") and "chapter-" in n}
    refs = [n for n, html in chapters.items() if 'id="fnref:orbit"' in html]
    notes = [n for n, html in chapters.items() if 'id="fn:orbit"' in html]
    assert refs and notes and refs != notes  # the footnote is in another chapter than its mark ...
    assert f'href="{Path(notes[0]).name}#fn:orbit"' in chapters[refs[0]]  # ... and its link follows it there
    assert run_cli("book", "--content", str(exhibit), "--output", str(out), "--essay", "nope", "-q") == 1
