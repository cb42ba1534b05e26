"""A rendered paragraph: the text a reader sees, its sentences, and its passages cut from the tree.

Python-Markdown renders a paragraph into an ElementTree (``<em>``, ``<strong>``,
``<a>``, ``<code>``, footnote markers) whose text still holds placeholders for the
raw HTML and entities it stashed. Sentences are found in the text a reader sees,
never in the Markdown source, so a sentence whose ``!`` sits inside ``*…*`` keeps
its emphasis whole. Each boundary between passages is then mapped back to a place
in the tree, chosen where it crosses the fewest elements; an element that still
straddles it is split in two (closed before, opened again after), so every passage's
markup is balanced. A boundary is never put inside a code span, a footnote marker or
a pair of raw HTML tags: the sentences on either side of it stay together.

Offsets: the paragraph's *raw* text is every ``text`` and ``tail`` of its tree in
document order (placeholders included); its *plain* text is what a reader sees of
it; its *normalized* text is the plain text with each run of whitespace one space,
which is what the sentence splitter reads.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as etree
from bisect import bisect_right
from dataclasses import dataclass

import regex

# A stashed piece of raw HTML, an entity (``&`` or Python-Markdown's stand-in for it), or
# a run of ordinary text. The placeholder's form is markdown.util.HTML_PLACEHOLDER.
_PIECE = re.compile(
    r"\x02wzxhzdk:(?P<stash>\d+)\x03"
    r"|(?P<entity>(?:&|\x02amp\x03)(?:#[0-9]+|#[xX][0-9a-fA-F]+|[0-9A-Za-z]+);)"
    r"|(?P<run>[^\x02&]+|[\x02&])"
)
_ATTRS = r"""(?:[^>"']|"[^"]*"|'[^']*')*?"""  # a '>' inside a quoted attribute does not end the tag
_TAG = re.compile(rf"<!--.*?-->|<{_ATTRS}>", re.DOTALL)
_OPEN_TAG = re.compile(rf"<([A-Za-z][A-Za-z0-9-]*)\b{_ATTRS}(/?)>\Z", re.DOTALL)
_CLOSE_TAG = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>\Z")
_BREAK_TAG = re.compile(r"<br\b[^>]*>\Z", re.IGNORECASE)
_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
_NONSPACE = re.compile(r"\S+")
_INNER_SPACE = re.compile(r"\s")
_WORD = re.compile(r"\w")
# GPT-2's own pre-tokenizer (openai/gpt-2 src/encoder.py): byte-pair merges never cross
# these pieces, so text of two pieces is at least two tokens for any GPT-2 vocabulary.
_PRETOKEN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def prompt_problem(text: str) -> str | None:
    """Why a passage's text cannot prompt the model, or None.

    The engine needs a prompt of at least two tokens. Two of GPT-2's pre-tokenizer
    pieces are always at least two tokens, whatever the model's vocabulary, so this
    is decided here, without a model.
    """
    if not _WORD.search(text):
        return "nothing but punctuation"
    text = text.strip()
    if not _INNER_SPACE.search(text) and len(_PRETOKEN.findall(text)) < 2:  # words apart are pieces apart
        return "a single word, too short to prompt the model"
    return None


@dataclass(frozen=True)
class _Unit:
    """A piece of the raw text: an ordinary run (plain == raw) or one indivisible piece."""

    raw: int  # where it starts in the raw text
    raw_end: int
    plain_at: int  # where its plain text starts
    plain: str
    ordinary: bool  # a run of ordinary text: every character is its own place
    outside: bool  # not inside a link, a code span or a footnote marker


def is_footnote_ref(el: etree.Element) -> bool:
    """Python-Markdown's footnote marker: <sup id="fnref:…"><a class="footnote-ref">1</a></sup>."""
    return el.tag == "sup" and any(a.tag == "a" and a.get("class") == "footnote-ref" for a in el)


class Rendered:
    """One top-level paragraph after Python-Markdown's inline processing."""

    def __init__(self, p: etree.Element, stash: list) -> None:
        self.p = p
        self._stash = stash
        self._extent: dict[int, tuple[int, int]] = {}  # id(element) -> its raw [start, end)
        self._spans: list[tuple[int, int, bool]] = []  # (start, end, atomic): elements and raw-HTML pairs
        self._units: list[_Unit] = []
        self._plain: list[str] = []
        self._plain_total = 0
        self._open_raw: list[tuple[str, int]] = []  # raw HTML tags opened and not yet closed
        self._raw_inside = 0  # raw <a> and <code> tags open here: their words are not the paragraph's own
        self._image_first: int | None = None  # where an image that is the first thing shown ends (raw offset)
        self._shown = False  # whether anything visible came yet
        self.length = self._walk(p, 0, silent=False, inside=False)
        self.plain = "".join(self._plain)
        self._unit_at = [u.plain_at for u in self._units]
        self._unit_raw = [u.raw for u in self._units]
        self._plain_only = all(u.ordinary for u in self._units)
        self.normalized = " ".join(self.plain.split())
        self._runs: list[tuple[int, int]] = []  # where the plain text's words are, when it is not normalized already
        self._run_at: list[int] = []  # where each of them starts in the normalized text
        if self.normalized != self.plain:
            at = 0
            for m in _NONSPACE.finditer(self.plain):
                self._runs.append(m.span())
                self._run_at.append(at)
                at += m.end() - m.start() + 1
            self.normalized = " ".join(self.plain[s:e] for s, e in self._runs)  # the same text, from the same runs

    # -- reading the tree ------------------------------------------------------------------

    def _walk(self, el: etree.Element, pos: int, silent: bool, inside: bool) -> int:
        pos = self._text(el.text, pos, silent, inside)
        for child in el:
            start = pos
            marker = is_footnote_ref(child)
            if not self._shown and child.tag == "img":
                self._image_first, self._shown = pos, True
            pos = self._walk(child, pos, silent or marker, inside or marker or child.tag in ("a", "code"))
            self._extent[id(child)] = (start, pos)
            self._spans.append((start, pos, marker or child.tag == "code"))
            pos = self._text(child.tail, pos, silent, inside)
        return pos

    def _text(self, text: str | None, pos: int, silent: bool, inside: bool) -> int:
        for m in _PIECE.finditer(text or ""):
            raw, start = m.group(), pos + m.start()
            if m.group("run") is not None:
                plain, ordinary = ("" if silent else raw), not silent
            elif m.group("entity") is not None:
                plain, ordinary = ("" if silent else html.unescape(raw.replace("\x02amp\x03", "&"))), False
            else:
                piece = self._stash[int(m.group("stash"))]
                piece = piece if isinstance(piece, str) else etree.tostring(piece, encoding="unicode")
                plain, ordinary = ("" if silent else self._raw_plain(piece, start, start + len(raw))), False
            self._shown = self._shown or bool(plain.strip())
            self._units.append(_Unit(start, start + len(raw), self._plain_total, plain, ordinary, not inside and not self._raw_inside))
            self._plain.append(plain)
            self._plain_total += len(plain)
        return pos + len(text or "")

    def _raw_plain(self, piece: str, start: int, end: int) -> str:
        """What a reader sees of a stashed piece of raw HTML; its tags' pairs become spans."""
        if not self._shown and piece.lstrip().lower().startswith("<img"):
            self._image_first, self._shown = end, True
        opened, closed = _OPEN_TAG.match(piece), _CLOSE_TAG.match(piece)
        if opened and not opened.group(2) and opened.group(1).lower() not in _VOID:
            self._open_raw.append((opened.group(1).lower(), start))
            self._raw_inside += opened.group(1).lower() in ("a", "code")
        elif closed:
            name = closed.group(1).lower()
            for i in range(len(self._open_raw) - 1, -1, -1):
                if self._open_raw[i][0] == name:
                    self._spans.append((self._open_raw[i][1], end, True))
                    self._raw_inside -= sum(n in ("a", "code") for n, _ in self._open_raw[i:])
                    del self._open_raw[i:]
                    break
        if _BREAK_TAG.match(piece):
            return " "
        return html.unescape(_TAG.sub("", piece))

    # -- what kind of paragraph ------------------------------------------------------------

    def prose_problem(self) -> str | None:
        """Why this paragraph is not prose (and is left as it is), or None.

        Prose has words of its own: a paragraph that is only links (a table of
        contents, a line of links between ``<br>``), only code, or an image on a line
        of its own with what follows it (an image and its caption) is not verbosified.
        """
        if self._image_first is not None:
            after = "".join(u.plain for u in self._units if u.raw >= self._image_first)
            if not after.strip() or "\n" in after[: len(after) - len(after.lstrip())]:
                return "an image and its caption"
        if not any(u.outside and _WORD.search(u.plain) for u in self._units):
            return "nothing but links" if any(_WORD.search(u.plain) for u in self._units) else "no words"
        return None

    # -- sentences and cuts ----------------------------------------------------------------

    def _plain_index(self, n: int) -> int:
        """The plain text's index of the normalized text's character ``n``."""
        if not self._runs:
            return n
        k = bisect_right(self._run_at, n) - 1
        s, e = self._runs[k]
        offset = n - self._run_at[k]
        return s + offset if offset < e - s else e  # past the run: the whitespace after it

    def _raw_span(self, i: int) -> tuple[int, int]:
        """Where the plain text's character ``i`` lies in the raw text."""
        u = self._units[bisect_right(self._unit_at, i) - 1]  # the last unit starting at or before i shows it
        if u.ordinary:
            return u.raw + i - u.plain_at, u.raw + i - u.plain_at + 1
        return u.raw, u.raw_end

    def cut_between(self, end: int, start: int) -> int | None:
        """The raw offset at which to cut between a sentence ending at normalized ``end``
        and the next starting at ``start``: crossing the fewest elements and, of those, the
        last (so a footnote marker stays with the sentence it follows); None when every
        place is inside a code span, a footnote marker or raw HTML tags."""
        lo = self._raw_span(self._plain_index(end - 1))[1]
        hi = self._raw_span(self._plain_index(start))[0]
        if not self._spans and self._plain_only:
            return hi  # text and nothing else: every place is as good
        near = self._units[max(bisect_right(self._unit_raw, lo) - 1, 0) : bisect_right(self._unit_raw, hi)]
        inside_piece = [(u.raw, u.raw_end) for u in near if not u.ordinary and u.raw < hi and u.raw_end > lo]
        best: tuple[int, int] | None = None
        for r in range(lo, hi + 1):
            if any(a < r < b for a, b in inside_piece):
                continue
            if any(a < r < b for a, b, atomic in self._spans if atomic):
                continue
            depth = sum(1 for a, b, _ in self._spans if a < r < b)
            if best is None or depth <= best[0]:
                best = (depth, r)
        return None if best is None else best[1]

    def copy(self, lo: int, hi: int) -> etree.Element:
        """A new <p> holding what lies in raw [lo, hi), every element cut there closed and reopened."""
        p = etree.Element("p")
        self._copy(self.p, p, lo, hi, 0)
        _tidy(p)
        return p

    def _copy(self, src: etree.Element, dst: etree.Element, lo: int, hi: int, pos: int) -> None:
        dst.text = _clip(src.text, pos, lo, hi)
        last: etree.Element | None = None
        for child in src:
            start, end = self._extent[id(child)]
            # An empty element (an image, a line break) goes with the text before it, unless
            # it opens an element that begins this passage (or the paragraph).
            take = (start < hi and end > lo) if end > start else (lo < start <= hi or start == lo == pos)
            if take:
                last = etree.SubElement(dst, child.tag, dict(child.attrib))
                self._copy(child, last, lo, hi, start)
            piece = _clip(child.tail, end, lo, hi)
            if piece:
                if last is not None:
                    last.tail = (last.tail or "") + piece
                else:
                    dst.text = (dst.text or "") + piece


def unwrap_nested_links(root: etree.Element) -> None:
    """A link inside a link (``[see [[1]]](#x)``) is not HTML: the inner one gives way to its content."""
    for outer in list(root.iter("a")):
        for inner in [a for a in outer.iter("a") if a is not outer]:
            parent = next(p for p in outer.iter() if inner in list(p))
            at = list(parent).index(inner)
            kids = list(inner)

            def after_previous(text: str | None, at: int = at) -> None:
                if not text:
                    return
                if at == 0:
                    parent.text = (parent.text or "") + text
                else:
                    parent[at - 1].tail = (parent[at - 1].tail or "") + text

            after_previous(inner.text)
            parent.remove(inner)
            for k, kid in enumerate(kids):
                parent.insert(at + k, kid)
            if kids:
                kids[-1].tail = (kids[-1].tail or "") + (inner.tail or "")
            else:
                after_previous(inner.tail)


def _clip(text: str | None, pos: int, lo: int, hi: int) -> str | None:
    if not text:
        return None
    a, b = max(lo - pos, 0), min(hi - pos, len(text))
    return text[a:b] if a < b else None


_SPACES = re.compile(r"\s+")


def _slots(el: etree.Element, out: list) -> list:
    """Every text and tail inside ``el`` in document order, as (element, attribute);
    an empty element (an image, a line break) as (element, None)."""
    out.append((el, "text"))
    for child in el:
        if len(child) == 0 and not child.text:
            out.append((child, None))
        else:
            _slots(child, out)
        out.append((child, "tail"))
    return out


def _tidy(p: etree.Element) -> None:
    """One space for each run of whitespace (as the normalized text has it), none at either end."""
    if not len(p):
        p.text = " ".join((p.text or "").split()) or None
        return
    slots = [s for s in _slots(p, []) if s[1] is None or getattr(*s)]
    for el, attr in slots:
        if attr:
            setattr(el, attr, _SPACES.sub(" ", getattr(el, attr)))
    for seq, strip in ((slots, str.lstrip), (reversed(slots), str.rstrip)):
        for el, attr in seq:
            if attr is None:
                break
            value = strip(getattr(el, attr))
            setattr(el, attr, value or None)
            if value:
                break


def sentence_spans(normalized: str, sentences: list[str]) -> list[tuple[int, int]]:
    """Where each of the splitter's sentences lies in the text it was given."""
    spans, at = [], 0
    for s in sentences:
        start = normalized.find(s, at)
        if start < 0:
            raise RuntimeError(f"the sentence splitter returned text that is not in its input: {s!r}")
        spans.append((start, start + len(s)))
        at = start + len(s)
    return spans


def cut_passages(rendered: Rendered, sentences: list[str], size: int) -> list[tuple[etree.Element, str, str | None]]:
    """The paragraph's passages of ``size`` sentences: (a <p> of their markup, their
    normalized plain text, why it cannot prompt the model or None).

    Sentences that cannot be cut apart stay one. A passage that cannot prompt the
    model (nothing but punctuation, one word) joins the passage before it, or after it
    when it is the first; only a paragraph's lone passage keeps its problem.
    """
    text = rendered.normalized
    pieces: list[tuple[int, int]] = []  # sentences that can be cut apart, in normalized offsets
    cuts: list[int] = []  # cuts[i]: the raw offset between pieces[i] and pieces[i + 1]
    for start, end in sentence_spans(text, sentences):
        if pieces:
            cut = rendered.cut_between(pieces[-1][1], start)
            if cut is None:
                pieces[-1] = (pieces[-1][0], end)
                continue
            cuts.append(cut)
        pieces.append((start, end))
    def group(members: list[int]) -> tuple[list[int], str, str | None]:
        plain = text[pieces[members[0]][0] : pieces[members[-1]][1]]
        return members, plain, prompt_problem(plain)

    groups = [group(list(range(k, min(k + size, len(pieces))))) for k in range(0, len(pieces), size)]
    while len(groups) > 1:
        g = next((g for g, (_, _, problem) in enumerate(groups) if problem), None)
        if g is None:
            break
        first = g - 1 if g else 0
        groups[first : first + 2] = [group(groups[first][0] + groups[first + 1][0])]
    bounds = [0] + [cuts[members[0] - 1] for members, _, _ in groups[1:]] + [rendered.length]
    return [(rendered.copy(bounds[g], bounds[g + 1]), plain, problem) for g, (_, plain, problem) in enumerate(groups)]
