#!/usr/bin/env python3
"""Generation benchmark: the seed recipe against the fast one, on GPT-2 124M's shape.

    python bench/generation.py [--passages 3] [--samples 10] [--length 100] [--recipes seed fast]

GPT-2's weights cannot be downloaded here, so this builds (once, cached in
models/bench-124M) a checkpoint with GPT-2 124M's exact hyperparameters and
vocabulary and random weights: speed does not depend on weight values. Each
recipe then runs the same passages of the exhibit in a process of its own,
which reports wall seconds per passage (fine-tune and sampling separately,
the first passage included), peak RSS and bytes written to disk.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MODELS = ROOT / "models"
NAME = "bench-124M"


def written_bytes() -> int:
    with open("/proc/self/io") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("write_bytes"))


def child(recipe: str, passages: int, samples: int, length: int) -> None:
    from generator.content import ContentLayout, read_essays
    from generator.samples.cache import Params

    texts = [p.text for e in read_essays(ContentLayout(ROOT / "content")) for p in e.passages][:passages]
    params = Params(temperature=0.8, top_k=30, length=length, seed=1, finetune_steps=1, learning_rate=1e-4)
    start_io = written_bytes()
    t0 = time.perf_counter()
    if recipe == "seed":
        from generator.samples.engine.seed import SeedEngine

        engine = SeedEngine(MODELS / NAME)
    else:
        from generator.samples.engine.fast import FastEngine

        engine = FastEngine(MODELS / NAME)
    load = time.perf_counter() - t0
    rows = []
    for text in texts:
        t = time.perf_counter()
        g = engine.generate(text, params, samples)
        rows.append({"wall": time.perf_counter() - t, "finetune": g.finetune_seconds, "sample": g.sample_seconds})
    engine.close()
    print(
        json.dumps(
            {
                "recipe": recipe,
                "load": load,
                "passages": rows,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "written_mb": (written_bytes() - start_io) / 2**20,
            }
        )
    )


def ensure_model() -> None:
    from generator.samples.engine.checkpoint import GPT2_124M, build_random, check_model

    try:
        check_model(MODELS, NAME)
    except Exception:  # noqa: BLE001 - not there yet
        print(f"building {MODELS / NAME} (GPT-2 124M's shape, random weights) ...", file=sys.stderr)
        build_random(MODELS / NAME, GPT2_124M, seed=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=4)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--recipes", nargs="+", default=["seed", "fast"], choices=["seed", "fast"])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.passages, args.samples, args.length)
        return 0
    ensure_model()
    results = {}
    for recipe in args.recipes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", recipe, "--passages", str(args.passages), "--samples", str(args.samples), "--length", str(args.length)],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            return out.returncode
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results[recipe] = res
        n = len(res["passages"])
        wall = sum(p["wall"] for p in res["passages"]) / n
        ft = sum(p["finetune"] for p in res["passages"]) / n
        sa = sum(p["sample"] for p in res["passages"]) / n
        steady = sum(p["wall"] for p in res["passages"][1:]) / max(1, n - 1)
        print(
            f"{recipe:>4}: {wall:6.1f} s per passage ({steady:.1f} s after the first) (fine-tune{' + save' if recipe == 'seed' else ''} {ft:.1f} s, sampling {sa:.1f} s; "
            f"model load {res['load']:.1f} s once), peak RSS {res['peak_rss_mb'] / 1024:.2f} GB, "
            f"{res['written_mb'] / n:.0f} MB written per passage  [{n} passages x {args.samples} samples x {args.length} tokens]",
            flush=True,
        )
    if "seed" in results and "fast" in results:
        per = {k: sum(p["wall"] for p in v["passages"]) / len(v["passages"]) for k, v in results.items()}
        print(f"fast is {per['seed'] / per['fast']:.1f}x faster per passage, first passage included")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
