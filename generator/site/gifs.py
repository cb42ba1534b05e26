"""GIF renders of the process, drawn with Pillow, written with imageio.

Per passage: the original on the exhibit's dark background, then the inserted
sentences typed in word by word in the highlight colour while a word counter
rises, a hold on the last frame, looping forever. Per essay: an overview of
every passage growing, also the social-preview image.

Small files by construction: every frame is mapped (without dithering) onto
one shared palette of seven colours — the background and three anti-aliasing
steps each of the text and highlight colours — and the counter changes in a
frame of its own, so each frame's changed rectangle stays small. Renders are
cached by a hash of everything drawn, so an unchanged passage is never drawn
again, and the bytes are the same for the same input.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..fsutil import atomic_write_bytes, digest

log = logging.getLogger(__name__)

RENDERER_VERSION = 3  # 3: passages written without Pillow's optimize pass (half the time, no larger)
BACKGROUND = (5, 6, 13)
TEXT = (228, 231, 245)
HIGHLIGHT = (255, 210, 122)
PASSAGE_SIZE = (640, 360)
OVERVIEW_SIZE = (1200, 630)
MARGIN = 28
WORD_MS, COUNTER_MS, START_MS, HOLD_MS = 110, 20, 1200, 3000

renders = 0  # how many GIFs this process actually drew (tests read it)


def _mix(color: tuple[int, int, int], share: float) -> tuple[int, int, int]:
    return tuple(round(b + (c - b) * share) for b, c in zip(BACKGROUND, color))


PALETTE = [BACKGROUND] + [_mix(TEXT, s) for s in (0.33, 0.66, 1.0)] + [_mix(HIGHLIGHT, s) for s in (0.33, 0.66, 1.0)]
MUTED = PALETTE[2]


def font_path() -> str:
    """Source Serif Pro (SIL Open Font License), shipped by the font-source-serif-pro package."""
    import font_source_serif_pro

    return font_source_serif_pro.font_files_ttf["SourceSerifPro"]


@lru_cache(maxsize=None)
def font(size: int):
    from PIL import ImageFont

    return ImageFont.truetype(font_path(), size)


def missing_glyphs(text: str, size: int = 20) -> set[str]:
    """Characters the font would draw as its 'missing' box."""
    f = font(size)
    notdef = bytes(f.getmask("\ue000"))
    return {ch for ch in set(text) if not ch.isspace() and bytes(f.getmask(ch)) == notdef}


@lru_cache(maxsize=1)
def _palette_image():
    from PIL import Image

    img = Image.new("P", (1, 1))
    flat = [v for rgb in PALETTE for v in rgb]
    img.putpalette(flat + [0] * (768 - len(flat)))
    return img


def _to_palette(frame):
    from PIL import Image

    return frame.quantize(palette=_palette_image(), dither=Image.Dither.NONE)


@dataclass(frozen=True)
class Layout:
    size: int
    lines: list[list[tuple[str, bool, int]]]  # per line: (word, inserted, x)
    line_height: int


def layout(words: list[tuple[str, bool]], width: int, height: int, max_size: int = 22, min_size: int = 10) -> Layout:
    """The largest font size at which the words fit the box, wrapped into lines."""
    for size in range(max_size, min_size - 1, -1):
        f = font(size)
        space = f.getlength(" ")
        lines: list[list[tuple[str, bool, int]]] = [[]]
        x = 0.0
        for word, inserted in words:
            w = f.getlength(word)
            if lines[-1] and x + w > width:
                lines.append([])
                x = 0.0
            lines[-1].append((word, inserted, round(x)))
            x += w + space
        line_height = round(size * 1.45)
        if len(lines) * line_height <= height or size == min_size:
            return Layout(size, lines, line_height)
    raise AssertionError("unreachable")


def _encode_gif(frames, durations: list[int], optimize: bool) -> bytes:
    import imageio.v3 as iio
    import numpy as np

    # imageio's pillow plugin writes P-mode frames with their palette; loop=0
    # must be explicit or browsers play the animation once. Frames go in one at
    # a time: a list would first be stacked into one array (a copy of every
    # frame, the larger part of the time for a long passage); the bytes are the same.
    # Pillow's optimize pass shrinks the overview's large frames by a third, but costs a
    # passage's many small ones half the encoding time and makes them no smaller.
    buf = io.BytesIO()
    options = dict(mode="P", is_batch=False, palette=_palette_bytes(), duration=durations, loop=0, optimize=optimize, disposal=1)
    with iio.imopen(buf, "w", extension=".gif", plugin="pillow") as gif:
        for frame in frames:
            gif.write(np.asarray(frame), **options)
    return buf.getvalue()


def _palette_bytes() -> bytes:
    return bytes(v for rgb in PALETTE for v in rgb)


def _png(frame) -> bytes:
    buf = io.BytesIO()
    frame.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def passage_frames(original: str, inserted: list[str], base_words: int):
    """Frames and durations for one passage."""
    from PIL import Image, ImageDraw

    w, h = PASSAGE_SIZE
    words = [(t, False) for t in original.split()] + [(t, True) for s in inserted for t in s.split()]
    box_h = h - 2 * MARGIN - 34
    lay = layout(words, w - 2 * MARGIN, box_h)
    f, counter_font = font(lay.size), font(16)
    canvas = Image.new("RGB", (w, h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)

    counter_box = (MARGIN, h - MARGIN - 22, w - MARGIN, h - MARGIN)

    def counter(n: int) -> tuple[int, int, int, int]:
        draw.rectangle(counter_box, fill=BACKGROUND)
        label = f"{n:,} words" if n == base_words else f"{base_words:,} → {n:,} words"
        at = (w - MARGIN, h - MARGIN)
        draw.text(at, label, font=counter_font, fill=HIGHLIGHT if n > base_words else MUTED, anchor="rb")
        return _union(counter_box, draw.textbbox(at, label, font=counter_font, anchor="rb"))

    positions = [(word, inserted, MARGIN + x, MARGIN + i * lay.line_height) for i, line in enumerate(lay.lines) for word, inserted, x in line]
    for word, inserted, x, y in positions:
        if not inserted:
            draw.text((x, y), word, font=f, fill=TEXT)
    counter(base_words)
    frame = _to_palette(canvas)
    frames, durations = [frame], [START_MS]

    def changed(box: tuple[int, int, int, int]):
        """The last frame with ``box`` mapped again: the palette mapping is per pixel (no
        dithering), so this is the whole canvas's mapping at a fraction of the cost."""
        box = (max(0, box[0] - 2), max(0, box[1] - 2), min(w, box[2] + 2), min(h, box[3] + 2))
        out = frames[-1].copy()
        out.paste(_to_palette(canvas.crop(box)), box[:2])
        return out

    count = base_words
    typed = [p for p in positions if p[1]]
    for i, (word, _, x, y) in enumerate(typed):
        draw.text((x, y), word, font=f, fill=HIGHLIGHT)
        frames.append(changed(draw.textbbox((x, y), word, font=f)))
        durations.append(WORD_MS)
        count += 1
        frames.append(changed(counter(count)))
        durations.append(COUNTER_MS if i + 1 < len(typed) else HOLD_MS)
    if not typed:
        durations[0] = HOLD_MS
    return frames, durations


def overview_frames(title: str, rows: list[tuple[int, int]], steps: int = 16):
    """The whole essay growing: one bar per passage, original then inserted words."""
    from PIL import Image, ImageDraw

    w, h = OVERVIEW_SIZE
    top, bottom = 150, h - 70
    longest = max((a + b for a, b in rows), default=1) or 1
    pitch = (bottom - top) / max(1, len(rows))
    bar = max(2, min(18, int(pitch * 0.7)))
    scale = (w - 2 * 60) / longest
    original = sum(a for a, _ in rows)
    added = sum(b for _, b in rows)
    canvas = Image.new("RGB", (w, h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((60, 56), title, font=font(44), fill=TEXT)
    for i, (a, _) in enumerate(rows):
        y = round(top + i * pitch)
        draw.rectangle((60, y, 60 + max(1, round(a * scale)), y + bar), fill=PALETTE[2])
    frames, durations = [], []
    for step in range(steps + 1):
        share = step / steps
        for i, (a, b) in enumerate(rows):
            if b:
                y = round(top + i * pitch)
                x0 = 60 + max(1, round(a * scale))
                x1 = x0 + round(b * share * scale)
                if x1 > x0:
                    draw.rectangle((x0 + 1, y, x1, y + bar), fill=HIGHLIGHT)
        draw.rectangle((60, h - 60, w - 60, h - 20), fill=BACKGROUND)
        total = original + round(added * share)
        label = f"{original:,} → {total:,} words" if step else f"{original:,} words"
        draw.text((w - 60, h - 24), label, font=font(26), fill=HIGHLIGHT if step else MUTED, anchor="rb")
        frames.append(_to_palette(canvas))
        durations.append(START_MS if step == 0 else (HOLD_MS if step == steps else 90))
    return frames, durations


@dataclass(frozen=True)
class Render:
    name: str  # file name stem: a hash of what is drawn
    gif: bytes
    png: bytes
    width: int
    height: int


class GifCache:
    """Rendered GIF/PNG pairs on disk, keyed by a hash of what they show.

    With ``defer``, an animation that is not in the cache yet is not drawn: its
    name (the hash) is returned at once with empty bytes, and what to draw is kept
    in ``pending`` (name -> kind and payload, plain JSON) for ``draw`` later. The
    studio's preview builds so, and draws an animation when the preview asks for it."""

    def __init__(self, folder: Path | None, *, defer: bool = False):
        self.folder = folder
        self.defer = defer
        self.pending: dict[str, list] = {}

    def get(self, kind: str, payload: dict) -> Render:
        global renders
        key = digest(json.dumps([RENDERER_VERSION, kind, payload, PALETTE, font_path().rsplit("/", 1)[-1]], sort_keys=True), 16)
        size = PASSAGE_SIZE if kind == "passage" else OVERVIEW_SIZE
        if self.folder:
            gif, png = self.folder / f"{key}.gif", self.folder / f"{key}.png"
            if gif.is_file() and png.is_file():
                return Render(key, gif.read_bytes(), png.read_bytes(), *size)
        if self.defer:
            self.pending[key] = [kind, json.loads(json.dumps(payload))]  # as the build's manifest keeps it
            return Render(key, b"", b"", *size)
        if kind == "passage":
            frames, durations = passage_frames(payload["original"], payload["inserted"], payload["words"])
        else:
            frames, durations = overview_frames(payload["title"], [tuple(r) for r in payload["rows"]])
        render = Render(key, _encode_gif(frames, durations, optimize=kind == "overview"), _png(frames[-1]), *size)
        renders += 1
        if self.folder:
            atomic_write_bytes(self.folder / f"{key}.gif", render.gif, durable=False)  # a cache: drawn again if lost
            atomic_write_bytes(self.folder / f"{key}.png", render.png, durable=False)
        return render

    def draw(self, kind: str, payload: dict) -> Render:
        """A deferred animation, drawn now (and cached)."""
        return GifCache(self.folder).get(kind, payload)

    def passage(self, original: str, inserted: list[str], base_words: int) -> Render:
        return self.get("passage", {"original": original, "inserted": inserted, "words": base_words})

    def overview(self, title: str, rows: list[tuple[int, int]]) -> Render:
        return self.get("overview", {"title": title, "rows": rows})
