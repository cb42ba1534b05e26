#!/usr/bin/env python3
"""Where the fast engine's memory goes, phase by phase, for one passage.

    python bench/memory.py [--model 124M] [--samples 10] [--length 100] [--passages 2]

On a checkpoint of GPT-2 SIZE's exact shape and random weights (built once, as
bench/generation.py builds it, in models/bench-SIZE), in a fresh process: the
resident set after importing TensorFlow, then the peak of each phase of a
passage: building the engine and restoring the base weights, the fine-tune
step, sampling, and the next passage's restore. Each phase's peak is Linux's
own high-water mark (VmHWM), reset between phases (``/proc/self/clear_refs``),
so a phase's peak is its own. The fp32 weights' size and the budget the
engine is held to (weights x 1.25 + 1 GB) are printed beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _status(field: str) -> float:
    """A /proc/self/status figure (VmRSS, VmHWM) in GB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**20
    raise KeyError(field)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # resets VmHWM to the present RSS


def child(model: str, samples: int, length: int, passages: int) -> dict:
    from generator.content import ContentLayout, read_essays
    from generator.samples.cache import Params
    from generator.samples.engine.tf import load

    texts = [p.text for e in read_essays(ContentLayout(ROOT / "content")) for p in e.passages][:passages]
    phases: dict[str, float] = {}
    _reset_peak()
    load()
    phases["import TensorFlow"] = _status("VmHWM")
    from generator.samples.engine.fast import FastEngine

    _reset_peak()
    engine = FastEngine(ROOT / "models" / f"bench-{model}")
    phases["build + restore"] = _status("VmHWM")
    params = Params(temperature=0.8, top_k=30, length=length, seed=1, finetune_steps=1, learning_rate=1e-4)
    for i, text in enumerate(texts):
        tokens = engine.encode(text)
        _reset_peak()
        engine._restore_base()
        phases[f"passage {i + 1}: restore"] = _status("VmHWM")
        _reset_peak()
        engine.finetune(text, params, tokens)  # restores the base weights again first: the same peak as above
        phases[f"passage {i + 1}: fine-tune"] = _status("VmHWM")
        _reset_peak()
        engine.sample(text, params, samples, tokens)
        phases[f"passage {i + 1}: sample"] = _status("VmHWM")
    hp = engine.hparams
    engine.close()
    return {"phases": phases, "weights_gb": hp.weight_bytes / 2**30}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="124M")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--passages", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.model, args.samples, args.length, args.passages)))
        return 0
    sys.path.insert(0, str(ROOT / "bench"))
    from generation import SHAPES, ensure_model

    if args.model not in SHAPES:
        ap.error(f"--model: one of {', '.join(SHAPES)}")

    ensure_model(args.model)
    out = subprocess.run([sys.executable, __file__, "--child", "--model", args.model, "--samples", str(args.samples),
                          "--length", str(args.length), "--passages", str(args.passages)], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr[-3000:], file=sys.stderr)
        return out.returncode
    res = json.loads(out.stdout.strip().splitlines()[-1])
    w = res["weights_gb"]
    print(f"GPT-2 {args.model}'s shape: fp32 weights {w:.2f} GB, budget {1.25 * w + 1:.2f} GB (weights x 1.25 + 1 GB); "
          f"{args.samples} samples x {args.length} tokens")
    for phase, gb in res["phases"].items():
        print(f"    {phase:<32} peak {gb:5.2f} GB  ({gb - w:+.2f} GB over the weights)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
