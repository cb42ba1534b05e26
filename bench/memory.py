#!/usr/bin/env python3
"""Where the fast engine's memory goes, phase by phase, for one passage.

    python bench/memory.py [--model 124M] [--samples 10] [--length 100] [--passages 2]

On a checkpoint of GPT-2 SIZE's exact shape and random weights (built once, as
bench/generation.py builds it, in models/bench-SIZE), in a fresh process: the
resident set after importing TensorFlow, then the peak of each phase of a
passage: building the engine and restoring the base weights, the fine-tune
step, sampling, and the next passage's restore. Each phase's peak is Linux's
own high-water mark (VmHWM), reset between phases (``/proc/self/clear_refs``),
so a phase's peak is its own (memory TensorFlow's allocator keeps for reuse
stays counted). The fp32 weights' size and the budget issue 25 sets (weights
x 1.25 + 1 GB) are printed beside it. GB here are 10**9 bytes, as the issue's
budget counts them (124M: 0.50 GB of weights, 1.62 GB of budget); the table
below, from before, was in GiB (2**30 bytes).

Measured on 2026-12-05 (Intel Xeon, 2 cores, 24 GB; one passage, 10 x 100;
`--passages 1`), the engine before this file was added (commit ec7f2fd,
run from a worktree with this script) and after, in one session:

| shape | weights | budget | before | after: restore | fine-tune | sample (peak) |
|---|---|---|---|---|---|---|
| 124M  | 0.46 | 1.58 | 2.00 | 1.37 | 1.52 | 1.55 |
| 355M  | 1.32 | 2.65 | 4.19 | 2.44 | 2.79 | 2.87 |
| 774M  | 2.88 | 4.60 | 7.79 | 4.26 | 4.86 | 4.99 |
| 1558M | 5.80 | 8.25 | 14.46 | 7.56 | 8.51 | 8.78 |

Later the same day, with the embeddings' dense gradient made block by block
inside their update, every restore taking over the memory it read into, and
the sampler's keys and values allocated once at their final size and written
in place (the same bits), 355M's phases were 2.22 / 2.59 / 2.67 GiB
(restore / fine-tune / sample), against 2.46 / 2.60 / 2.86 before them.
The whole command (``--command --passages 3``; GB = 10**9 bytes, the budget
in brackets): 124M 1.63 (1.62), 355M 3.01 (2.77), 774M 5.23 (4.87), 1558M
9.15 (8.79); 124M and 355M before the engine went to two malloc arenas. What keeps them over is TensorFlow's CPU allocator: it never
gives memory back, and the memory it has once touched for the fine-tune's
activations (0.37 GiB on 355M for a live peak of 0.18) is not all reused by
the sampler's keys and values; then the graph and its executors (0.3-0.5
GiB) and TensorFlow itself (0.57 GiB).

2026-12-06, engine version 2 (the sampler keeps the prompt's keys and values
once for all the samples, and each sample's in buffers that grow as it is
drawn), the whole command again, GB (budget): 124M 1.54 (1.62), 355M 2.93
(2.77), 774M 5.13 (4.87), 1558M 9.05 (8.79), the graph built or kept within
0.01 GB. 124M is within its budget. 355M's phases (``--passages 2``, GB):
restore 2.38, fine-tune 2.73, sample 2.79, against 2.38 / 2.78 / 2.87 before:
sampling is still the peak, by 0.06 GB over the fine-tune.

Engine version 3, the same day: the fine-tune's backward pass one block at a time, each
block's forward pass run again from its input (``engine/recompute.py``), and the sampler's
keys and values in chunks made once for the run. The whole command (``--command
--kept-only --passages 3``), GB (budget): 124M 1.48 (1.62), 355M 2.72 (2.77), 774M 4.85
(4.87), 1558M 8.58 (8.79): every size within. On the way (``--passages 2``, 355M, GB):
the fine-tune's peak went from 2.74 to 2.63 with the backward pass block by block; the
sampler then peaked at 2.78, 0.38 over the restored engine for 0.22 of keys and values:
the sizes the growing buffers had left in TensorFlow's allocator (oneDNN's builds give
every tensor a BFC allocator that keeps all it held). Chunks made once: 2.70. Handing the
tensors to malloc instead (``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1``, with glibc's mmap
threshold fixed at 256 kB so that freed tensors go back) took the peaks lower still (2.53
/ 2.64) but made every restore and fine-tune fault its memory in afresh: on 1558M's shape
the restore 4.3 -> 6.7 s and the fine-tune 6.7 -> 10.6 s. Left out. On 1558M's shape,
one passage: restore 7.72, fine-tune 8.40, sample 8.73 GB with the growing buffers (the
whole command 9.05 before either change).

Before, the second restore read every weight beside the variables (the
restore phase alone went 7.83 -> 13.45 on 1558M) and each step's updates
waited for every gradient, and TensorFlow summed the embeddings' gradient
into two more tensors of their size (311 MB live at the step's peak on 124M,
from a traced run's allocation records), which the update's temporaries then
joined. What is left over the weights: TensorFlow (0.57), the output layer's
dense gradient of ``wte``, the fine-tune's activations (about 0.5 GiB for a
60-token passage on 1558M: 48 layers), and the keys and values while
sampling (about 0.27 GiB for 10 samples on 1558M, 4x that for 40).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _status(field: str) -> float:
    """A /proc/self/status figure (VmRSS, VmHWM) in GB (10**9 bytes)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e9
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
    return {"phases": phases, "weights_gb": hp.weight_bytes / 1e9}


def three_passages(folder: Path, passages: int = 3) -> str:
    """A content folder at ``folder`` with the exhibit's settings and one essay of the exhibit's
    first ``passages`` passages, one paragraph each; returns the essay's slug."""
    from generator.content import ContentLayout, read_essays

    layout, exhibit = ContentLayout(folder), ContentLayout(ROOT / "content")
    texts = [p.text for e in read_essays(exhibit) for p in e.passages][:passages]
    layout.essays_dir.mkdir(parents=True)
    shutil.copy(exhibit.site_toml, layout.site_toml)
    body = "\n\n".join(texts)
    (layout.essays_dir / "three.md").write_text(f"Title: Three passages\nDate: 2026-12-05\n\n{body}\n", encoding="utf-8")
    found = [len(e.passages) for e in read_essays(ContentLayout(folder))]
    if found != [passages]:
        raise SystemExit(f"the measuring essay has {found} passages, not {passages}")
    return "three"


def command_peak(model: str, samples: int, length: int, passages: int, runs: tuple[str, ...] = ("built", "kept"), train_on: str = "passage") -> None:
    """The whole ``python build.py generate`` command's peak RSS on an essay of ``passages``
    passages (the exhibit's first), twice: with the engine's graph built (an artist's first run,
    a fresh graph cache) and read back (every later run). ``runs`` ("kept",) alone: once, with
    the graph as the user's own cache keeps it (bench/generation.py's warm-up keeps it there)."""
    with tempfile.TemporaryDirectory() as tmp:
        graphs = Path(tmp) / "graphs"
        for run in runs:
            env = {**os.environ, "VSR_GRAPH_CACHE": str(graphs)} if runs != ("kept",) else dict(os.environ)  # kept alone: the user's graph cache
            content = Path(tmp) / run
            slug = three_passages(content, passages)
            start = time.perf_counter()
            with tempfile.TemporaryFile() as err:
                proc = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "generate", "--content", str(content), "--models-dir", str(ROOT / "models"),
                                         "--model", f"bench-{model}", "--essay", slug, "--samples", str(samples), "--length", str(length),
                                         "--train-on", train_on, "-q"],
                                        stdout=subprocess.DEVNULL, stderr=err, env=env)
                _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not every child's
                proc.returncode = os.waitstatus_to_exitcode(status)
                wall = time.perf_counter() - start
                if proc.returncode:
                    err.seek(0)
                    print(err.read().decode(errors="replace")[-3000:], file=sys.stderr)
                    raise SystemExit(proc.returncode)
            print(f"    generate, {passages} passages, graph {run}: peak RSS {usage.ru_maxrss * 1024 / 1e9:.2f} GB, {wall:.1f} s", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="124M")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--passages", type=int, default=2)
    ap.add_argument("--command", action="store_true", help="the whole `build.py generate` command's peak, on an essay of --passages passages")
    ap.add_argument("--kept-only", action="store_true", help="with --command: one run, the graph read from your own graph cache")
    ap.add_argument("--train-on", default="passage", choices=["passage", "window"], help="with --command: what the fine-tune trains on")
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
    if args.command:
        from generator.samples.engine.checkpoint import Hparams
        from generator.samples.engine.footprint import need

        hp = Hparams.read(ROOT / "models" / f"bench-{args.model}")
        w = hp.weight_bytes / 1e9
        estimate = need(hp, "fast", window=args.train_on == "window", samples=args.samples, length=args.length)
        print(f"GPT-2 {args.model}'s shape: fp32 weights {w:.2f} GB, budget {1.25 * w + 1:.2f} GB (weights x 1.25 + 1 GB); "
              f"{args.samples} samples x {args.length} tokens, trained on the {args.train_on}; the footprint's estimate: {estimate.total / 1e9:.2f} GB ({estimate.describe()})")
        command_peak(args.model, args.samples, args.length, args.passages, ("kept",) if args.kept_only else ("built", "kept"), args.train_on)
        return 0
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
