#!/usr/bin/env python3
"""`generate --ray` on this machine: one engine with every thread against several with a share
each, and one process without Ray (issue 28).

    python bench/cluster.py [--model 124M] [--passages 12] [--layouts 1x2 2x1]

Builds a content folder in bench/.work/cluster/ with one essay of ``--passages`` passages (the
committed exhibit's own prose, a paragraph each, cycled and marked so that each is new), and runs the
default recipe (10 samples x 100 tokens) on the checkpoint of the model's shape that
``bench/generation.py`` builds (models/bench-SIZE, random weights: speed does not depend on the
values), each layout in a fresh store, timed whole from the outside (Ray's start and every
worker's load included). WORKERSxTHREADS; ``1x2`` without Ray is ``one``.

Measured on 2026-12-06, 2 cores (Intel Xeon), 124M's shape, 12 passages:

| layout | whole command | a passage | passages an hour |
|---|---|---|---|
| one process, 2 threads | 100.3 s | 8.36 s | 431 |
| Ray, 1 worker x 2 threads | 106.2 s | 8.85 s | 407 |
| Ray, 2 workers x 1 thread | 84.3 s | 7.02 s | 513 |

Ray's own start (about 4 s) is most of what one worker costs over one process. Two engines of
one thread make 1.26x the passages of one engine of two: the sampler is bound by memory
bandwidth, which a second thread in one step shares no better than a second process does, and
the two processes' fine-tunes and samplers overlap.

Passages are independent, so N machines like this one make about N times the passages an hour
of one; the driver records each in about 2 ms (``bench/store.py``), so it is not what limits
them: a novel's 1,464 passages at the rate above (513 an hour) take about 2.9 h on one such
machine, and about 2.9 / N h on N (each machine's Ray start and model load, seconds, aside).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / ".work" / "cluster"


def content(folder: Path, passages: int) -> None:
    from generator.content import read_essays
    from generator.content.layout import ContentLayout

    project = ContentLayout(ROOT / "content")
    texts = [p.text for e in read_essays(project) for p in e.passages]
    if folder.exists():
        shutil.rmtree(folder)
    layout = ContentLayout(folder)
    layout.essays_dir.mkdir(parents=True)
    shutil.copy(project.site_toml, layout.site_toml)
    # a paragraph a passage (the exhibit's are three sentences each); a second round's are marked, so that each is new
    body = "\n\n".join(("" if i < len(texts) else f"Round {i // len(texts) + 1}: ") + texts[i % len(texts)] for i in range(passages))
    (layout.essays_dir / "bench.md").write_text("Title: Bench\n\n" + body + "\n")


def run(layout: str, model: str, passages: int) -> dict:
    folder = WORK / layout
    content(folder, passages)
    cmd = [sys.executable, "build.py", "generate", "--content", str(folder), "--models-dir", str(ROOT / "models"), "--model", f"bench-{model}",
           "--essay", "bench", "--samples", "10", "--length", "100", "--force"]
    if layout != "one":
        workers, threads = (int(x) for x in layout.split("x"))
        cmd += ["--ray", "--workers", str(workers), "--threads", str(threads)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    generated = int(re.search(r"generated (\d+) passage", done.stderr).group(1))
    return {"layout": layout, "wall": wall, "passages": generated}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="124M")
    ap.add_argument("--passages", type=int, default=12)
    ap.add_argument("--layouts", nargs="+", default=["one", "1x2", "2x1"])
    args = ap.parse_args()
    if not (ROOT / "models" / f"bench-{args.model}").exists():
        raise SystemExit(f"models/bench-{args.model} is not there: python bench/generation.py --model {args.model} --rows passage --passages 0 builds it")
    rows = []
    for layout in args.layouts:
        r = run(layout, args.model, args.passages)
        rows.append(r)
        print(f"{layout}: {r['wall']:.1f} s for {r['passages']} passages, {r['wall'] / r['passages']:.2f} s a passage", flush=True)
    print("\n| layout | whole command | a passage | passages an hour |")
    print("|---|---|---|---|")
    for r in rows:
        name = "one process, 2 threads" if r["layout"] == "one" else "Ray, {} worker(s) x {} thread(s)".format(*r["layout"].split("x"))
        print(f"| {name} | {r['wall']:.1f} s | {r['wall'] / r['passages']:.2f} s | {3600 * r['passages'] / r['wall']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
