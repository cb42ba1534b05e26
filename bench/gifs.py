#!/usr/bin/env python3
"""GIF benchmark: size and render time of every animation of the exhibit.

    python bench/gifs.py [--content content]

Draws every passage that has picks, and each essay's overview, without the
cache, and prints per kind: count, median and largest size, time per GIF,
against the budgets (passage median <= 60 KB, none over 150 KB; overview
<= 500 KB).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--content", type=Path, default=ROOT / "content")
    args = ap.parse_args()
    from generator.config import load_config
    from generator.content import ContentLayout, read_essays
    from generator.picks.resolve import verbosify
    from generator.picks.store import load_picks
    from generator.samples.store import load_cache
    from generator.site.gifs import GifCache

    layout = ContentLayout(args.content)
    config = load_config(layout.site_toml)
    cache = GifCache(None)
    rows: dict[str, list[tuple[int, float]]] = {"passage": [], "overview": []}
    for essay in read_essays(layout, passage_size=config.passage_size, splitter=config.sentence_splitter):
        samples, _ = load_cache(layout.samples(essay.slug), essay.slug)
        picks, _ = load_picks(layout.picks(essay.slug), essay.slug)
        v = verbosify(essay, samples, picks, config.sentence_splitter)
        bars = []
        for p in essay.passages:
            vp = v.at(p)
            bars.append((p.words, vp.words_added))
            if vp.insertions:
                t = time.perf_counter()
                r = cache.passage(p.text, [i.text for i in vp.insertions], p.words)
                rows["passage"].append((len(r.gif), time.perf_counter() - t))
        t = time.perf_counter()
        r = cache.overview(essay.title, bars)
        rows["overview"].append((len(r.gif), time.perf_counter() - t))
    budgets = {"passage": "median <= 60 KB, max <= 150 KB", "overview": "max <= 500 KB"}
    for kind, data in rows.items():
        if not data:
            print(f"{kind}: none")
            continue
        sizes = [s / 1024 for s, _ in data]
        times = [t for _, t in data]
        print(
            f"{kind}: {len(data)} GIFs, median {statistics.median(sizes):.0f} KB, largest {max(sizes):.0f} KB, "
            f"{statistics.mean(times):.2f} s per GIF (budget: {budgets[kind]})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
