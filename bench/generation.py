#!/usr/bin/env python3
"""Generation benchmark: three rows that keep the data choice apart from the engineering.

    python bench/generation.py [--passages 4] [--samples 10] [--length 100] [--rows seed window passage]

| row | what it isolates |
|---|---|
| seed    | gpt-2-simple's finetune(steps=1) + generate, the artist's recipe: the baseline |
| window  | fast recipe, --train-on window: the same training data as seed, so the engineering's gain |
| passage | fast recipe, --train-on passage (the default): the data choice's gain on top |

GPT-2's weights cannot be downloaded here, so this builds (once, cached in
models/bench-124M) a checkpoint with GPT-2 124M's exact hyperparameters and
vocabulary and random weights: speed does not depend on weight values. Each
row runs the same passages of the exhibit in a process of its own, timed
whole from the outside (imports and model load included), and reports the
seconds per passage (fine-tune and sampling apart), peak RSS and bytes
written to disk.

Measured on 2026-11-28, 2 cores (avx512), 4 passages x 10 samples x 100 tokens:

| row | whole command | per passage | fine-tune | sampling | load | peak RSS | written |
|---|---|---|---|---|---|---|---|
| seed | 347.9 s | 87.0 s | 39.2 s (with saving) | 46.8 s | 2.0 s | 7.45 GB | 480 MB a passage |
| fast, window | 155.3 s | 38.8 s | 26.2 s | 10.0 s | 9.2 s | 6.24 GB | 0 |
| fast, passage | 53.8 s | 13.4 s | 1.4 s | 10.2 s | 6.6 s | 2.13 GB | 0 |

The engineering alone (same data) is 2.2x; training on the passage instead
of the pasted windows is another 2.9x; together 6.5x. Over 50 passages
(`--rows passage --passages 50`) the default's peak RSS is 2.21 GB, flat:
2.05 GB after passage 1, 2.19 after 26, 2.20 after 50. No GPU was lent to
the session that measured this, so there is no GPU row yet.
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


ROWS = {"seed": ("seed", "window"), "window": ("fast", "window"), "passage": ("fast", "passage")}


def child(row: str, passages: int, samples: int, length: int) -> None:
    from generator.content import ContentLayout, read_essays
    from generator.samples.cache import Params

    recipe, train_on = ROWS[row]
    every = [p.text for e in read_essays(ContentLayout(ROOT / "content")) for p in e.passages]
    texts = (every * (passages // len(every) + 1))[:passages]  # more passages than the exhibit has: round again
    params = Params(temperature=0.8, top_k=30, length=length, seed=1, finetune_steps=1, learning_rate=1e-4, train_on=train_on)
    start_io = written_bytes()
    t0 = time.perf_counter()
    if recipe == "seed":
        from generator.samples.engine.seed import SeedEngine

        engine = SeedEngine(MODELS / NAME)
    else:
        from generator.samples.engine.fast import FastEngine

        engine = FastEngine(MODELS / NAME, window=train_on == "window")
    load = time.perf_counter() - t0
    rows = []
    for text in texts:
        t = time.perf_counter()
        g = engine.generate(text, params, samples)
        rss = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**30
        rows.append({"wall": time.perf_counter() - t, "finetune": g.finetune_seconds, "sample": g.sample_seconds, "rss_gb": rss,
                     "split": dict(getattr(engine, "split", {}))})
    hparams = engine.hparams
    engine.close()
    t = time.perf_counter()
    floor = floor_seconds(hparams, samples, length) if recipe == "fast" else None
    floor_library = floor_seconds(hparams, samples, length, transposed=False) if recipe == "fast" else None
    floor_wall = time.perf_counter() - t  # not part of the command: the parent takes it off
    print(
        json.dumps(
            {
                "row": row,
                "load": load,
                "floor": floor,
                "floor_library": floor_library,
                "floor_wall": floor_wall,
                "passages": rows,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "written_mb": (written_bytes() - start_io) / 2**20,
            }
        )
    )


def floor_seconds(hparams, batch: int, length: int, repeats: int = 3, transposed: bool = True) -> float:
    """The sampler's floor, measured here: the matrix multiplications of ``length`` one-token
    steps at this batch size (per layer: c_attn, attn's c_proj, mlp's c_fc and c_proj; then the
    output layer, against a transposed ``[n_embd, n_vocab]`` copy, its fastest form), chained
    in one while loop as the sampler chains its steps. Attention over the cache, norms, the
    draws and everything else the sampler does are left out. Best of ``repeats``. With
    ``transposed`` False the output layer is the library's ``transpose_b`` against
    ``[n_vocab, n_embd]``, the form the exact sampler must keep on a CPU where the copy's
    bits differ."""
    from generator.samples.engine.tf import load

    tf, _ = load()
    v1 = tf.compat.v1
    e, v = hparams.n_embd, hparams.n_vocab
    graph = tf.Graph()
    with graph.as_default():
        rnd = v1.random_normal_initializer(stddev=0.02)
        layers = [[v1.get_variable(f"l{i}/{name}", shape, initializer=rnd) for name, shape in
                   (("attn", [e, 3 * e]), ("proj", [e, e]), ("fc", [e, 4 * e]), ("mlp", [4 * e, e]))] for i in range(hparams.n_layer)]
        out = v1.get_variable("wte_t", [e, v] if transposed else [v, e], initializer=rnd)

        def body(i, h):
            for attn, proj, fc, mlp in layers:
                h = h + tf.matmul(tf.matmul(h, attn)[:, :e], proj)
                h = h + tf.matmul(tf.matmul(h, fc), mlp)
            logits = tf.matmul(h, out, transpose_b=not transposed)
            return i + 1, h + 1e-6 * logits[:, :e]  # the next step depends on this one, as in sampling

        _, h = tf.while_loop(lambda i, h: i < length, body, [tf.constant(0), tf.ones([batch, e])])
        init = v1.global_variables_initializer()
    graph.finalize()
    times = []
    with v1.Session(graph=graph, config=_session_config(tf)) as sess:
        sess.run(init)
        sess.run(h)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            sess.run(h)
            times.append(time.perf_counter() - t)
    return min(times)


def _session_config(tf):
    from generator.platform import engine_threads
    from generator.samples.engine.fast import session_config

    return session_config(tf, engine_threads())


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
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.passages, args.samples, args.length)
        return 0
    ensure_model()
    whole = {}
    for row in args.rows:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child", row, "--passages", str(args.passages), "--samples", str(args.samples), "--length", str(args.length)],
            capture_output=True,
            text=True,
        )
        whole[row] = time.perf_counter() - start
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            return out.returncode
        res = json.loads(out.stdout.strip().splitlines()[-1])
        whole[row] -= res["floor_wall"]
        n = len(res["passages"])
        ft = sum(p["finetune"] for p in res["passages"]) / n
        sa = sum(p["sample"] for p in res["passages"]) / n
        recipe, train_on = ROWS[row]
        print(
            f"{recipe} recipe, train_on {train_on:<7}: {whole[row]:6.1f} s whole command ({whole[row] / n:.1f} s per passage; "
            f"fine-tune{' + save' if recipe == 'seed' else ''} {ft:.1f} s, sampling {sa:.1f} s per passage; load {res['load']:.1f} s), "
            f"peak RSS {res['peak_rss_mb'] / 1024:.2f} GB (RSS {res['passages'][0]['rss_gb']:.2f} GB after passage 1, "
            f"{res['passages'][n // 2]['rss_gb']:.2f} after {n // 2 + 1}, {res['passages'][-1]['rss_gb']:.2f} after {n}), "
            f"{res['written_mb'] / n:.0f} MB written per passage  "
            f"[{n} passages x {args.samples} samples x {args.length} tokens]",
            flush=True,
        )
        if res["floor"]:
            split = {k: sum(p["split"][k] for p in res["passages"]) / n for k in ("restore", "finetune", "sample", "decode")}
            per = sum(p["wall"] for p in res["passages"]) / n
            print(f"    sampler {split['sample']:.2f} s against its floor {res['floor']:.2f} s (the step's matmuls alone, same process): "
                  f"{split['sample'] / res['floor']:.2f}x; against the floor with the library's output layer "
                  f"({res['floor_library']:.2f} s): {split['sample'] / res['floor_library']:.2f}x", flush=True)
            print("    a passage: " + ", ".join(f"{k} {v:.2f} s ({100 * v / per:.0f}%)" for k, v in split.items())
                  + f", other {per - sum(split.values()):.2f} s", flush=True)
    if {"seed", "window", "passage"} <= set(whole):
        print(
            f"engineering (seed -> fast on the same data): {whole['seed'] / whole['window']:.1f}x; "
            f"data choice (window -> passage): {whole['window'] / whole['passage']:.1f}x; "
            f"both (seed -> fast default): {whole['seed'] / whole['passage']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
