#!/usr/bin/env python3
"""How long a studio decision waits for its file's lock while other writers work.

    python bench/locks.py [--seconds 20] [--decisions-per-second 10]

On a copy of the exhibit (bench/.work/locks/), with a small GPT-2 trained here
on the exhibit's essays (bench/.work/locks/models/tiny, a few seconds), two
scenarios of ``--seconds`` each:

1. ``generate`` runs in a loop (a new seed each time, 2 samples of 12 tokens,
   so it writes the sample cache several times a second) while the studio's
   session decides, accept or reject, on the candidates of "The Robots That
   Decide Alone" at a steady pace.
2. ``pick`` runs in a loop on the same essay (it rewrites the same picks file
   the decisions write, each time with another ratio) while the studio decides.

3. The studio's essay page, over HTTP from a running studio, asked for again and
   again while decisions wait their turn on the picks file: beside ``pick`` in
   a loop, and beside a writer that holds the file's lock ``--hold`` seconds at
   a time (``pick`` held it 6.2 s on a 1,464-passage novel, issue 28).

For every decision: the time its ``update_picks`` waited for the picks file's
lock (``locking.locked`` yields it), and the whole decision (lock, read,
apply, render, write, fsync). Median and worst of each.

A decision and ``generate`` take different locks (one per file), so in the first
scenario a decision never waits for ``generate``; the second shows what waiting
costs when two writers do share a file.

Measured on 2026-12-01, 2 cores (AMD EPYC, x86-64-v4), no GPU, 20 s a scenario:

| beside | decisions | lock wait: median | worst | whole decision: median | worst |
|---|---|---|---|---|---|
| generate in a loop (4 runs of 25 passages) | 183 | 0.75 ms | 3.7 ms | 68 ms | 344 ms |
| pick in a loop (46 runs, the same file) | 90 | 0.91 ms | 304 ms | 179 ms | 481 ms |

The studio's page (2026-12-06, 2 cores, Intel Xeon, 20 s a scenario), before and after the
studio stopped holding its lock while a decision waits for a file's lock (issue 27):

| beside | before: pages | median | worst | after: pages | median | worst |
|---|---|---|---|---|---|---|
| pick in a loop | 182 | 68 ms | 418 ms | 242 | 65 ms | 214 ms |
| the lock held 3 s at a time | 40 | 65 ms | 3,211 ms | 253 | 64 ms | 220 ms |

Before, every page waited for the decision that waited for the file; now a page waits
for nothing but the CPU.

The lock itself costs under a millisecond; what a decision waits for is the
other writer's turn on the same file (``pick`` holds it while it picks and
renders the whole essay), and, on two cores, the CPU that ``generate``'s
TensorFlow or ``pick``'s start-up takes.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / ".work" / "locks"
ESSAY = "space-rovers"


def _tiny_model(content: Path, models: Path) -> None:
    from generator.config import load_config
    from generator.content import read_essays
    from generator.content.layout import ContentLayout
    from generator.samples.engine.checkpoint import Hparams
    from generator.samples.engine.demo import TrainingPlan, train

    if (models / "tiny" / "checkpoint").exists():
        return
    layout = ContentLayout(content)
    config = load_config(layout.site_toml)
    texts = [" ".join(p.text for p in e.passages) for e in read_essays(layout, passage_size=config.passage_size, splitter=config.sentence_splitter)]
    plan = TrainingPlan(hparams=Hparams(n_vocab=557, n_ctx=1024, n_embd=32, n_head=2, n_layer=2), merges=300, steps=200, batch_size=4, window=64,
                        learning_rate=1e-2, warmup=5, seed=1)
    train(texts, models / "tiny", plan, progress=False)


def _writer_loop(kind: str, content: Path, models: Path, stop: threading.Event, counts: dict) -> None:
    seed, ratio = 1000, 2.0
    while not stop.is_set():
        if kind == "generate":
            cmd = ["generate", "--models-dir", str(models), "--model", "tiny", "--essay", ESSAY, "--samples", "2", "--length", "12", "--seed", str(seed), "-q"]
            seed += 1
        else:
            ratio = 5.0 - ratio
            cmd = ["pick", "--essay", ESSAY, "--ratio", str(ratio), "-q"]
        out = subprocess.run([sys.executable, str(ROOT / "build.py"), *cmd, "--content", str(content)], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{kind} failed: {out.stderr[-1000:]}")
        counts[kind] = counts.get(kind, 0) + 1


def _scenario(kind: str, content: Path, models: Path, seconds: float, rate: float) -> tuple[list[float], list[float], int]:
    from generator.picks import writes
    from generator.studio.session import Studio

    waits: list[float] = []
    real = writes.locked

    @contextlib.contextmanager
    def timed(path, **kw):
        with real(path, **kw) as waited:
            if path.suffix == ".toml":
                waits.append(waited)
            yield waited

    writes.locked = timed  # what update_picks takes
    studio = Studio(content, journal=WORK / "journal")
    s = studio.essay(ESSAY)
    candidates = [(key, ref) for key, refs in s.assessed.items() for ref in refs]
    rng = random.Random(2019)
    stop, counts = threading.Event(), {}
    writer = threading.Thread(target=_writer_loop, args=(kind, content, models, stop, counts))
    writer.start()
    time.sleep(2.0 if kind == "pick" else 8.0)  # let it get going (generate imports TensorFlow and loads the model first)
    totals: list[float] = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            key, ref = rng.choice(candidates)
            start = time.perf_counter()
            studio.decide(ESSAY, rng.choice(["accept", "reject"]), key, ref)
            totals.append(time.perf_counter() - start)
            time.sleep(max(0.0, 1.0 / rate - totals[-1]))
    finally:
        stop.set()
        writer.join()
        writes.locked = real
    return waits, totals, counts.get(kind, 0)


def _hold_loop(path: Path, hold: float, stop: threading.Event, counts: dict) -> None:
    """Hold ``path``'s lock ``hold`` seconds at a time, as ``pick`` does on a long text (6.2 s
    for a 1,464-passage novel, issue 28), with half a second free between."""
    from generator.locking import locked

    while not stop.is_set():
        with locked(path):
            stop.wait(hold)
        counts["hold"] = counts.get("hold", 0) + 1
        stop.wait(0.5)


def _pages(kind: str, content: Path, models: Path, seconds: float, rate: float, hold: float) -> tuple[list[float], int, int]:
    """The studio's essay page, asked for over HTTP again and again, while ``pick`` rewrites the
    essay's picks file in a loop (or a writer holds its lock ``hold`` seconds at a time) and
    decisions (which wait for that file's lock) go on beside."""
    import logging
    import urllib.request

    from generator.studio.serve import StudioOptions, open_studio

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request

    options = StudioOptions(content=content, models_dir=models, model="tiny", ratio=2.0, preview=WORK / "preview",
                            templates=ROOT / "site_templates", project=ROOT, port=0, journal=WORK / "journal")
    running = open_studio(options)
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    studio = running.studio
    s = studio.essay(ESSAY)
    candidates = [(key, ref) for key, refs in s.assessed.items() for ref in refs]
    rng = random.Random(2019)
    stop, counts = threading.Event(), {}
    decisions = [0]

    def decide() -> None:
        while not stop.is_set():
            key, ref = rng.choice(candidates)
            with contextlib.suppress(Exception):  # a decision that waited too long is refused (503): the page is what is measured
                studio.decide(ESSAY, rng.choice(["accept", "reject"]), key, ref)
                decisions[0] += 1
            stop.wait(1.0 / rate)

    if kind == "pick":
        writer = threading.Thread(target=_writer_loop, args=("pick", content, models, stop, counts))
    else:
        writer = threading.Thread(target=_hold_loop, args=(studio.layout.picks(ESSAY), hold, stop, counts))
    decider = threading.Thread(target=decide)
    writer.start()
    time.sleep(2.0)
    decider.start()
    pages: list[float] = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            start = time.perf_counter()
            with urllib.request.urlopen(running.url + f"essays/{ESSAY}/", timeout=60) as r:
                r.read()
            pages.append(time.perf_counter() - start)
    finally:
        stop.set()
        writer.join()
        decider.join()
        running.server.shutdown()
        running.close()
    return pages, counts.get(kind, 0), decisions[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--decisions-per-second", type=float, default=10.0)
    p.add_argument("--hold", type=float, default=3.0, help="seconds the lock is held at a time in the last scenario (default: %(default)s)")
    args = p.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    content, models = WORK / "content", WORK / "models"
    shutil.copytree(ROOT / "content", content)
    _tiny_model(content, models)
    ms = lambda xs: f"{statistics.median(xs) * 1000:.2f} ms, worst {max(xs) * 1000:.1f} ms"  # noqa: E731
    print("| beside | decisions | lock wait | whole decision |")
    print("|---|---|---|---|")
    for kind in ("generate", "pick"):
        waits, totals, runs = _scenario(kind, content, models, args.seconds, args.decisions_per_second)
        print(f"| {kind} in a loop ({runs} runs) | {len(totals)} | median {ms(waits)} | median {ms(totals)} |", flush=True)
    print("\n| the studio's essay page, beside | decisions | pages | answer time |")
    print("|---|---|---|---|")
    for kind in ("pick", "hold"):
        pages, runs, decided = _pages(kind, content, models, args.seconds, args.decisions_per_second, args.hold)
        beside = f"pick in a loop ({runs} runs)" if kind == "pick" else f"the picks file's lock held {args.hold:g} s at a time ({runs} times)"
        print(f"| {beside} | {decided} | {len(pages)} | median {ms(pages)} |", flush=True)


if __name__ == "__main__":
    main()
