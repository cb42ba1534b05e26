"""Essay files -> Essay: meta-data header, Markdown body, prose paragraphs cut into passages.

An essay is Markdown with a Python-Markdown meta-data header::

    Title: On Rovers
    Author: Someone
    Date: 2026-11-27
    Summary: One line for the landing page.
    Order: 1
    Slug: rovers          (optional: the URL, instead of the file name)
    Status: draft         (optional: published, the default, or draft)

Only top-level prose paragraphs are verbosified. They are found inside
Python-Markdown's own tree (so lists, quotes, code, tables, raw HTML and lone
images are whatever Markdown says they are) and split into sentences *after*
inline Markdown runs, in the text a reader sees: a passage's text, its key and
its prompt hold no Markdown or HTML, and its markup is cut so that it stays
whole (prose.py). A paragraph that is only links, only code, or an image and
its caption is not prose and is left as it is.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import xml.etree.ElementTree as etree
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import InputError
from ..fsutil import digest
from .prose import Rendered, cut_passages, unwrap_nested_links
from .sentences import split_sentences

META_KEYS = ("title", "author", "date", "summary", "order", "slug", "status")
STATUSES = ("published", "draft")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_META_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.*)$")
_WORD = re.compile(r"\w+(?:[-'’.]\w+)*")
_PASSAGE_P = re.compile(r'<p data-vsr="(\d+)">(.*?)</p>', re.DOTALL)
_ID = re.compile(r'(<[A-Za-z][^<>]*?)\sid="[^"]*"')


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def passage_key(text: str) -> str:
    """Stable identity of a passage: a hash of its normalized text."""
    return digest(normalize(text), 12)


@dataclass(frozen=True)
class Passage:
    key: str
    index: int  # position among the essay's passages
    paragraph: int  # which prose paragraph it belongs to
    text: str  # plain text, as a reader sees it: the prompt, and what the key is made of
    html: str  # the essay's own inline Markdown, rendered (trusted)
    problem: str | None = None  # why it cannot prompt the model (generate skips it, check lists it)

    @cached_property
    def words(self) -> int:  # asked for several times per passage by every page and statistic
        return count_words(self.text)

    @cached_property
    def html_again(self) -> str:
        """``html`` for a second showing on one page (the compare view): without id
        attributes (a footnote marker's), which a page may hold only once."""
        return _ID.sub(r"\1", self.html)


@dataclass(frozen=True)
class Block:
    """A piece of the essay body: a prose paragraph (passages) or other HTML."""

    passages: tuple[Passage, ...] = ()
    html: str = ""

    @property
    def is_prose(self) -> bool:
        return bool(self.passages)


@dataclass(frozen=True)
class EssayHeader:
    """What listing an essay needs: where it is, its URL slug, whether it is a draft."""

    path: Path
    slug: str
    draft: bool


def header_of(path: Path, meta: dict[str, tuple[str, int]]) -> EssayHeader:
    """Pelican's rules: ``Slug:`` overrides the file name; ``Status: draft`` keeps it off the published site."""
    slug, line = meta.get("slug", (path.stem, 0))
    if not SLUG.match(slug):
        what = "Slug" if line else "essay file names become URLs:"
        raise InputError(path, f"{what} {slug!r}: use lower-case letters, digits and dashes only", line or None)
    status, line = meta.get("status", ("published", 0))
    if status.lower() not in STATUSES:
        raise InputError(path, f"Status must be one of {', '.join(STATUSES)}, got {status!r}", line)
    return EssayHeader(path, slug, status.lower() == "draft")


def read_header(path: Path) -> EssayHeader:
    return header_of(path, read_essay_source(path)[0])


@dataclass(frozen=True)
class Essay:
    slug: str
    path: Path
    title: str
    author: str
    date: dt.date | None
    summary: str
    order: int
    blocks: tuple[Block, ...]
    draft: bool = False

    @property
    def passages(self) -> list[Passage]:
        return [p for b in self.blocks for p in b.passages]

    @property
    def words(self) -> int:
        return sum(p.words for p in self.passages)


def read_essay_source(path: Path) -> tuple[dict[str, tuple[str, int]], str, int]:
    """Decode and cut off the meta-data header: (meta, body, body's first line)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(path, f"not valid UTF-8 ({exc.reason}); save the file as UTF-8", line) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    meta: dict[str, tuple[str, int]] = {}
    i = 0
    fenced = bool(lines) and lines[0].strip() == "---"
    if fenced:
        i = 1
    elif not lines or not _META_LINE.match(lines[0]):
        raise InputError(path, "missing meta-data header: the file must start with 'Title: ...'", 1)
    last = None
    while i < len(lines):
        line = lines[i]
        if fenced and line.strip() in ("---", "..."):
            i += 1
            break
        if not line.strip():
            if fenced:
                raise InputError(path, "blank line inside the '---' meta-data header", i + 1)
            i += 1
            break
        m = _META_LINE.match(line)
        if m:
            last = m.group(1).lower()
            if last not in META_KEYS:
                raise InputError(path, f"unknown meta-data key '{m.group(1)}' (known: {', '.join(k.title() for k in META_KEYS)})", i + 1)
            if last in meta:
                raise InputError(path, f"meta-data key '{m.group(1)}' given twice", i + 1)
            meta[last] = (m.group(2).strip(), i + 1)
        elif last and (line.startswith("    ") or line.startswith("\t")):
            value, at = meta[last]
            meta[last] = (f"{value} {line.strip()}".strip(), at)
        else:
            raise InputError(path, f"malformed meta-data line {line.strip()!r} (expected 'Key: value')", i + 1)
        i += 1
    else:
        if fenced:
            raise InputError(path, "meta-data header opened with '---' is never closed", 1)
    return meta, "\n".join(lines[i:]), i + 1


def _prose_extension(splitter: str, passage_size: int):
    """A Markdown extension that turns each top-level prose <p> into one <p data-vsr=N> per passage.

    It runs after inline Markdown (and after Python-Markdown has put its escapes back),
    so sentences are found in the text a reader sees; see prose.py for how each
    passage's markup is kept whole.
    """
    from markdown.extensions import Extension
    from markdown.inlinepatterns import InlineProcessor
    from markdown.treeprocessors import Treeprocessor
    from markdown.util import HTML_PLACEHOLDER_RE

    class ProseSplitter(Treeprocessor):
        def run(self, root: etree.Element) -> None:
            self.passages: list[tuple[int, str, str | None]] = []  # (paragraph, plain text, why it cannot prompt)
            paragraph = 0
            unwrap_nested_links(root)
            for el in list(root):
                if el.tag != "p" or (not len(el) and HTML_PLACEHOLDER_RE.fullmatch((el.text or "").strip())):
                    continue  # not a paragraph, or a block of raw HTML
                rendered = Rendered(el, self.md.htmlStash.rawHtmlBlocks)
                if rendered.prose_problem():
                    continue
                at = list(root).index(el)
                root.remove(el)
                for offset, (p, text, problem) in enumerate(cut_passages(rendered, split_sentences(rendered.normalized, splitter), passage_size)):
                    p.set("data-vsr", str(len(self.passages)))
                    p.tail = "\n"
                    root.insert(at + offset, p)
                    self.passages.append((paragraph, text, problem))
                paragraph += 1

    class BracketedReference(InlineProcessor):
        """``[[1]]`` with ``[1]: #references`` below, read as GitHub reads it: a bracket,
        a link, a bracket. The artist's own write-up cites this way; Python-Markdown
        alone would print ``[[1]]`` and link nothing."""

        def handleMatch(self, m: re.Match, data: str):
            ref = " ".join(m.group(1).lower().split())
            if ref not in self.md.references:
                return None, None, None
            href, title = self.md.references[ref]
            a = etree.Element("a", {"href": href})
            if title:
                a.set("title", title)
            a.text = m.group(1)
            return a, m.start(0) + 1, m.end(0) - 1

    class ProseExtension(Extension):
        def extendMarkdown(self, md) -> None:
            self.processor = ProseSplitter(md)
            md.treeprocessors.register(self.processor, "vsr-prose", -10)  # after 'inline' (20) and 'unescape' (0)
            md.inlinePatterns.register(BracketedReference(r"\[\[([^\[\]\n]+)\]\]", md), "vsr-bracketed-reference", 175)  # before 'reference' (170)

    return ProseExtension()


_MARKDOWN: dict[tuple[str, int], tuple] = {}


def markdown_for(splitter: str, passage_size: int):
    """One Markdown instance per process and setting: building one (its
    extensions looked up by name) costs more than converting an essay."""
    import markdown
    from markdown.extensions.fenced_code import FencedCodeExtension
    from markdown.extensions.footnotes import FootnoteExtension
    from markdown.extensions.tables import TableExtension

    key = (splitter, passage_size)
    if key not in _MARKDOWN:
        ext = _prose_extension(splitter, passage_size)
        # instances, not names: a name is looked up among entry points (importlib.metadata, 6 ms)
        _MARKDOWN[key] = (markdown.Markdown(extensions=[ext, FencedCodeExtension(), TableExtension(), FootnoteExtension()], output_format="html"), ext)
    return _MARKDOWN[key]


def parse_essay(path: Path, *, passage_size: int = 3, splitter: str = "builtin") -> Essay:
    meta, body, body_line = read_essay_source(path)
    header = header_of(path, meta)
    if "title" not in meta or not meta["title"][0]:
        raise InputError(path, "meta-data header has no 'Title:'", 1)
    if not body.strip():
        raise InputError(path, "the essay has no text after its meta-data header", body_line)
    date = None
    if "date" in meta:
        value, line = meta["date"]
        try:
            date = dt.date.fromisoformat(value)
        except ValueError:
            raise InputError(path, f"Date must be YYYY-MM-DD, got {value!r}", line) from None
    order = 0
    if "order" in meta:
        value, line = meta["order"]
        try:
            order = int(value)
        except ValueError:
            raise InputError(path, f"Order must be a whole number, got {value!r}", line) from None

    md, ext = markdown_for(splitter, passage_size)
    out = md.reset().convert(body)
    sources = ext.processor.passages

    blocks: list[Block] = []
    pending: list[Passage] = []
    pos = 0
    for m in _PASSAGE_P.finditer(out):
        index = int(m.group(1))
        paragraph = sources[index][0]
        between = out[pos : m.start()].strip()
        if pending and (between or pending[-1].paragraph != paragraph):
            blocks.append(Block(passages=tuple(pending)))
            pending = []
        if between:
            blocks.append(Block(html=between))
        _, plain, problem = sources[index]
        text = normalize(plain)
        pending.append(Passage(key=passage_key(text), index=index, paragraph=paragraph, text=text, html=m.group(2).strip(), problem=problem))
        pos = m.end()
    if pending:
        blocks.append(Block(passages=tuple(pending)))
    tail = out[pos:].strip()
    if tail:
        blocks.append(Block(html=tail))
    if not any(b.is_prose for b in blocks):
        raise InputError(path, "the essay has no prose paragraphs to verbosify", body_line)
    return Essay(
        slug=header.slug,
        path=path,
        title=meta["title"][0],
        author=meta.get("author", ("", 0))[0],
        date=date,
        summary=meta.get("summary", ("", 0))[0],
        order=order,
        blocks=tuple(blocks),
        draft=header.draft,
    )
