"""The gallery's pages: the exhibition loop's data (exhibition/passages.json)
and the wall label's medium line and QR code.

Each essay contributes an ``exhibit`` record, made when the essay is rendered
and kept in the build manifest with its summary, so an unchanged essay is not
read again to rebuild these pages. The loop's script puts every text it gets
here into the page with ``textContent``: generated text stays inert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..config import SiteConfig, named_essays_problems
from ..content.essays import count_words
from ..errors import InputError
from ..picks.resolve import VerbosifiedEssay
from ..picks.store import Picks

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def exhibit_of(verbosified: VerbosifiedEssay, picks: Picks) -> dict:
    """What the loop and the label need of one essay: its passages with the sentences
    picked for them, who chose those sentences, and how the runs behind them were fine-tuned."""
    passages, hand, auto, steps = [], 0, 0, set()
    for passage in verbosified.essay.passages:
        vp = verbosified.at(passage)
        entry = picks.passages.get(passage.key)
        if entry is not None and entry.auto:
            auto += len(vp.insertions)
        else:
            hand += len(vp.insertions)
        steps.update(i.run.params.finetune_steps for i in vp.insertions)
        passages.append({"key": passage.key, "text": passage.text, "words": passage.words,
                         "added": [{"text": i.text, "words": count_words(i.text)} for i in vp.insertions]})
    return {"passages": passages, "hand": hand, "auto": auto, "steps": sorted(steps)}


def loop_essays(config: SiteConfig, essays: Sequence, site_toml, drafts: set[str]) -> list:
    """The essays the loop plays, in its order: [exhibition] essays, or every published one in
    the site's order. ``drafts``: every draft's slug here (built or not), for ``check``'s message."""
    published = [e for e in essays if not e.draft]
    if not config.exhibition.essays:
        return sorted(published, key=lambda e: e.sort_key)
    named = named_essays_problems(config, {e.slug: 1 for e in published}, drafts)
    named = [why for entry, why in named if entry in config.exhibition.essays]
    if named:
        raise InputError(site_toml, "; ".join(named))
    by_slug = {e.slug: e for e in published}
    return [by_slug[s] for s in config.exhibition.essays]


def exhibition_json(config: SiteConfig, essays: Sequence) -> bytes:
    """exhibition/passages.json: the settings and every passage the loop plays."""
    ex = config.exhibition
    data = {
        "settings": {
            "seconds_per_word": ex.seconds_per_word,
            "hold_seconds": ex.hold_seconds,
            "idle_seconds": ex.idle_seconds,
            "orientation": ex.orientation,
        },
        "essays": [
            {"slug": e.slug, "title": e.title, "passages": e.exhibit.get("passages", [])}
            for e in essays
        ],
    }
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def number_word(n: int) -> str:
    """A count in words up to twenty (what the label and the station write), else in digits."""
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def _steps(steps: list[int], passage_size: int) -> str:
    unit = f"{number_word(passage_size)}-sentence passage"
    if not steps:
        return ""
    if steps == [0]:
        return "not fine-tuned"
    if len(steps) == 1:
        n = steps[0]
        return f"fine-tuned for {number_word(n)} step{'s' if n != 1 else ''} on each {unit}"
    return f"fine-tuned for {number_word(steps[0])} to {number_word(steps[-1])} steps on each {unit}"


def medium(config: SiteConfig, essays: Sequence, provenance: list[dict]) -> str:
    """The label's medium line, from the records: the models behind the samples, how they were
    fine-tuned, how many samples there are, and who chose the sentences."""
    if not provenance:
        return "An essay, not yet verbosified"
    models = ", ".join(dict.fromkeys(r["label"] for r in provenance))
    steps = sorted({s for e in essays for s in e.exhibit.get("steps", [])})
    samples = sum(r["samples"] for r in provenance)
    hand = sum(e.exhibit.get("hand", 0) for e in essays)
    auto = sum(e.exhibit.get("auto", 0) for e in essays)
    if hand and auto:
        chosen = f"{hand} sentence{'s' if hand != 1 else ''} chosen by hand, {auto} by the project’s auto-pick"
    elif hand:
        chosen = "sentences chosen by hand"
    elif auto:
        chosen = "sentences chosen by the project’s auto-pick"
    else:
        chosen = "no sentences chosen yet"
    parts = [", ".join(p for p in (models, _steps(steps, config.passage_size)) if p), f"{samples:,} samples", chosen]
    line = "; ".join(parts)
    return line[:1].upper() + line[1:]


def label_year(config: SiteConfig, essays: Sequence) -> str:
    """[exhibition] year, or the year of the latest dated essay ('' when none is dated)."""
    if config.exhibition.year:
        return str(config.exhibition.year)
    dates = sorted(e.date for e in essays if e.date)
    return dates[-1][:4] if dates else ""


def qr_svg(url: str, title: str) -> str:
    """``url`` as a QR code, an inline SVG carrying ``data-qr`` (segno: pure Python, well kept)."""
    import segno

    svg = segno.make(url, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff", title=title, omitsize=True)
    return svg.replace("<svg ", '<svg data-qr role="img" aria-label="QR code: ' + _attr(url) + '" ', 1)


def _attr(text: str) -> str:
    import markupsafe

    return str(markupsafe.escape(text))
