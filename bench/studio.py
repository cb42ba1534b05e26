#!/usr/bin/env python3
"""Studio benchmark: how long a decision takes to land, and what "more samples" costs.

    python bench/studio.py [--presses 30] [--more 3] [--skip-more]

1. Key press -> picks file saved -> preview rebuilt. The studio runs in this
   process on a copy of the exhibit (bench/.work/), driven by Debian's Chromium
   through Playwright: each press of `a` (accept, or take back) on the second
   candidate of the next passage of "The Robots That Decide Alone" (25
   passages; `n`, `j`, `a`) is timed from the
   key press until the picks file on disk has changed, until the preview's
   essay page has been rebuilt by the site's incremental build, and until the
   animations that page now names (the passage's and the essay overview's,
   deferred by the preview's build) have been drawn and served to a request for
   each. Medians and 90th percentiles over ``--presses`` presses, after three
   warm-up presses. Target: median <= 150 ms to saved and rebuilt.

2. "More samples" for one passage on a checkpoint of GPT-2 124M's shape (built
   by bench/generation.py in models/bench-124M), once the worker's model is
   warm: the first request loads the model, the next ``--more`` are timed from
   the POST to the page's poll seeing the job done (the run appended to the
   cache). Compared with `generate`'s own time per passage, measured here too
   by bench/generation.py's fast/passage row (the same engine call, in a
   process of its own). Target: <= 1.2x.

Measured on 2026-11-28, 2 cores, no GPU:

| what | median | p90 |
|---|---|---|
| key press -> picks file saved | 27 ms | 31 ms |
| key press -> preview page rebuilt | 92 ms (the build: 64 ms) | 107 ms |
| key press -> its new animations drawn and served | 345 ms | 462 ms |
| more samples, model warm (generate: 10.0 s per passage) | 10.1 s, 1.00x | |

The first "more samples" request takes 23.4 s: it starts the worker, which
imports TensorFlow and loads the model.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / ".work" / "studio"
ESSAY = "space-rovers"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _open(models_dir: Path, model: str):
    import logging

    from generator.studio.serve import StudioOptions, open_studio

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("generator.site.builder").setLevel(logging.ERROR)
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.copytree(ROOT / "content", WORK / "content")
    options = StudioOptions(content=WORK / "content", models_dir=models_dir, model=model, ratio=2.0, preview=WORK / "preview",
                            templates=ROOT / "site_templates", project=ROOT, port=0)
    running = open_studio(options)
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    return running


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def presses(running, count: int) -> dict:
    from playwright.sync_api import sync_playwright

    picks = running.studio.layout.picks(ESSAY)
    saved, rebuilt, builds, drawn = [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(running.url + f"essays/{ESSAY}/")
        for i in range(count + 3):
            page.keyboard.press("n")  # a decision in each passage in turn, as the artist reads down the essay
            page.keyboard.press("j")
            before, version = picks.read_bytes(), running.studio.version
            t0 = time.perf_counter()
            page.keyboard.press("a")
            while picks.read_bytes() == before:
                time.sleep(0.002)
            t_saved = time.perf_counter() - t0
            while not (running.studio.version > version and running.preview.built >= running.studio.version):
                time.sleep(0.002)
            t_built = time.perf_counter() - t0
            for name in list(running.preview.pending):  # what the preview page now names and has not drawn
                for ext in ("gif", "png"):
                    urllib.request.urlopen(running.url + f"preview/essays/{ESSAY}/gifs/{name}.{ext}").read()
            t_drawn = time.perf_counter() - t0
            if i >= 3:
                drawn.append(t_drawn * 1000)
                saved.append(t_saved * 1000)
                rebuilt.append(t_built * 1000)
                builds.append(running.preview.seconds * 1000)
            page.wait_for_timeout(50)  # a person's pace: the next press after this one has landed
        browser.close()
    from generator.site import gifs

    print(f"({gifs.renders} animations drawn)", file=sys.stderr)
    return {"saved_median_ms": statistics.median(saved), "saved_p90_ms": _pct(saved, 0.9),
            "rebuilt_median_ms": statistics.median(rebuilt), "rebuilt_p90_ms": _pct(rebuilt, 0.9), "presses": len(saved),
            "build_median_ms": statistics.median(builds), "drawn_median_ms": statistics.median(drawn), "drawn_p90_ms": _pct(drawn, 0.9)}


def _post(running, path: str, body: dict) -> dict:
    req = urllib.request.Request(running.url + "api/" + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-Studio-Token": running.token})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def _more(running, key: str) -> float:
    t0 = time.perf_counter()
    job = _post(running, f"essays/{ESSAY}/more", {"passage": key})
    while job["stage"] not in ("done", "error"):
        time.sleep(0.05)
        with urllib.request.urlopen(running.url + f"api/jobs/{job['job']}") as r:
            job = json.loads(r.read())
    if job["stage"] == "error":
        raise SystemExit(f"more samples failed: {job['message']}")
    return time.perf_counter() - t0


def more_samples(count: int) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    import generation

    generation.ensure_model()
    running = _open(generation.MODELS, generation.NAME)
    try:
        key = running.studio.essay(ESSAY).essay.passages[1].key
        load = _more(running, key)  # loads the model
        timed = [_more(running, key) for _ in range(count)]
    finally:
        running.close()
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "generation.py"), "--child", "passage", "--passages", str(count + 1)],
                         capture_output=True, text=True, check=True)
    gen = json.loads(out.stdout.strip().splitlines()[-1])
    per_passage = statistics.median(p["wall"] for p in gen["passages"][1:])
    studio = statistics.median(timed)
    return {"first_request_s": load, "studio_more_median_s": studio, "studio_more_runs_s": timed,
            "generate_per_passage_s": per_passage, "ratio": studio / per_passage}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--more", type=int, default=3)
    ap.add_argument("--skip-more", action="store_true")
    args = ap.parse_args()
    running = _open(ROOT / "models", "demo")
    try:
        r = presses(running, args.presses)
    finally:
        running.close()
    print(f"key press -> picks saved: median {r['saved_median_ms']:.0f} ms (p90 {r['saved_p90_ms']:.0f}); "
          f"-> preview rebuilt: median {r['rebuilt_median_ms']:.0f} ms (p90 {r['rebuilt_p90_ms']:.0f}; the build itself {r['build_median_ms']:.0f} ms); "
          f"-> its new animations drawn and served: median {r['drawn_median_ms']:.0f} ms (p90 {r['drawn_p90_ms']:.0f}) over {r['presses']} presses", flush=True)
    if not args.skip_more:
        m = more_samples(args.more)
        print(f"more samples, one passage, 10 x 100 tokens on GPT-2 124M's shape: first request {m['first_request_s']:.1f} s (loads the model); "
              f"then median {m['studio_more_median_s']:.1f} s ({', '.join(f'{t:.1f}' for t in m['studio_more_runs_s'])}); "
              f"generate: {m['generate_per_passage_s']:.1f} s per passage; ratio {m['ratio']:.2f}x (target <= 1.2x)")
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
