"""A long text published in chapters: ``essays/<slug>/`` becomes its contents page and each chapter
a page of its own, ``essays/<slug>/<n>/``, with the previous and the next linked.

Every passage carries its samples in the page (the compare view), about 7 KB of HTML each with
10 samples of 100 tokens: a 1,464-passage novel on one page would be some 11 MB, too much for a
phone. An essay of more passages than ``[chapters] after`` is cut at its ``##`` headings, and any
part longer than ``[chapters] every`` passages (a text with no headings is one such part) is cut
again every so many passages, between paragraphs where it can. ``every = 100`` keeps a chapter
near 0.5 MB (0.52 MB with the exhibit's real samples, ``tests/test_chapters.py``).

Links inside the text (``#id``: a footnote, a heading) point at the page the id ends up on
(``relink``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import markupsafe

from ..config import ChapterSettings
from ..content.essays import Block, Essay

_H2 = re.compile(r"\s*<h2\b[^>]*>(.*?)</h2>", re.S)
_AROUND_H2 = re.compile(r"(?=<h2\b)|(?<=</h2>)")
_ID = re.compile(r'\sid="([^"]+)"')
_HREF = re.compile(r'href="#([^"]+)"')


@dataclass(frozen=True)
class Chapter:
    number: int  # 1-based: its page is essays/<slug>/<number>/
    title: str  # plain text
    blocks: tuple[Block, ...]

    @property
    def passages(self) -> list:
        return [p for b in self.blocks for p in b.passages]

    @property
    def url(self) -> str:
        """Relative to the essay's folder."""
        return f"{self.number}/"

    @property
    def span(self) -> str:
        """Which passages it holds, as a reader counts them: "passages 3–7"."""
        ps = self.passages
        if not ps:
            return "no passages"
        first, last = ps[0].index + 1, ps[-1].index + 1
        return f"passage {first}" if first == last else f"passages {first}–{last}"


def heading(block: Block) -> str | None:
    """The text of a ``##`` heading that opens ``block``, or None."""
    m = None if block.is_prose else _H2.match(block.html)
    return markupsafe.Markup(m.group(1)).striptags() if m else None


def _pieces(block: Block) -> list[Block]:
    """A block of other HTML cut around each ``##`` heading in it, the heading a block of its own
    (the essay's Markdown gives one block for a run of headings, lists and the like between two
    prose paragraphs; the book shows a chapter's heading as its title, and the rest as it is)."""
    if block.is_prose:
        return [block]
    return [Block(html=piece) for piece in _AROUND_H2.split(block.html) if piece.strip()]


def _by_heading(essay: Essay) -> list[tuple[str, list[Block]]]:
    """The essay's blocks cut before each ``##`` heading: (the heading's text, the blocks)."""
    parts: list[tuple[str, list[Block]]] = [("", [])]
    for block in (piece for b in essay.blocks for piece in _pieces(b)):
        title = heading(block)
        if title is not None and any(b.is_prose for b in parts[-1][1]):
            parts.append((title, []))
        elif title is not None:  # nothing to read before it (an image, say): no chapter of its own
            parts[-1] = (title, parts[-1][1])
        parts[-1][1].append(block)
    return parts


def _cut(blocks: list[Block], every: int) -> list[list[Block]]:
    """``blocks`` in runs of at most ``every`` passages: between paragraphs where a paragraph fits,
    inside one where it alone is longer."""
    out: list[list[Block]] = [[]]

    def count(part: list[Block]) -> int:
        return sum(len(b.passages) for b in part)

    for block in blocks:
        if block.is_prose and count(out[-1]) + len(block.passages) > every:
            passages = list(block.passages)
            room = every - count(out[-1])
            if room and len(passages) > every:  # fill this chapter first, then whole chapters of the paragraph
                out[-1].append(Block(passages=tuple(passages[:room])))
                passages = passages[room:]
            while passages:
                if count(out[-1]):
                    out.append([])
                out[-1].append(Block(passages=tuple(passages[:every])))
                passages = passages[every:]
            continue
        out[-1].append(block)
    return [part for part in out if part]


def chapters_of(essay: Essay, settings: ChapterSettings) -> list[Chapter] | None:
    """The essay's chapters, or None when it is short enough for one page (``settings.after``)."""
    if len(essay.passages) <= settings.after:
        return None
    chapters: list[Chapter] = []
    for title, blocks in _by_heading(essay):
        parts = _cut(blocks, settings.every)
        for i, part in enumerate(parts):
            number = len(chapters) + 1
            span = Chapter(number, "", tuple(part)).span
            if not title:  # before the first heading, or a text with none
                name = span[0].upper() + span[1:]
            else:
                name = title if len(parts) == 1 else f"{title} ({i + 1} of {len(parts)})"
            chapters.append(Chapter(number, name, tuple(part)))
    return chapters


def _sibling(home: str, ident: str) -> str:
    """A chapter page's link to ``ident`` on the chapter page ``home`` ("3/index.html")."""
    return f"../{home.removesuffix('index.html')}#{ident}"


def relink(pages: dict[str, str], target: Callable[[str, str], str] = _sibling) -> dict[str, str]:
    """The chapter pages (their path -> HTML) with every ``href="#id"`` whose id is on another
    chapter's page pointing there (``target(its path, id)``; by default the site's ``../<n>/#id``).
    Ids are the essay's own Markdown's (escaped text cannot hold a quote, so no sample makes one)."""
    ids = {path: set(_ID.findall(html)) for path, html in pages.items()}
    where: dict[str, str] = {}
    for path, found in ids.items():
        for ident in found:
            where.setdefault(ident, path)
    out = {}
    for path, html in pages.items():
        def fix(m: re.Match, path: str = path) -> str:
            ident = m.group(1)
            home = where.get(ident)
            if home is None or ident in ids[path]:  # on this page (the page's own chrome too), or on none
                return m.group(0)
            return f'href="{target(home, ident)}"'

        out[path] = _HREF.sub(fix, html)
    return out
