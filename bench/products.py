#!/usr/bin/env python3
"""How fast the sampler's matrix products read the weights: the compiled ``VsrDecodeDense``
(engine version 5) against TensorFlow's matmul, on the four products of GPT-2 XL's layers.

    python bench/products.py [--rows 10 40] [--layers 24] [--rounds 3]

Each layer's four weights (1600 x 4800, 1600 x 1600, 1600 x 6400 and 6400 x 1600, random) are
multiplied by the same rows of x (four times over, side by side, for the 6400-deep one), every
product independent of the others, in one session on the machine's cores. Every weight is
read from memory once a run (24 layers: 2.9 GB, several times the 480 MiB of L3 here), so
GB/s is the weights' bytes over the run's time; the median of the rounds is printed. Beside
them, plain reading: TensorFlow's sum of every weight, on the same threads. The sampler runs
the same products in a chain, between its other steps.

Measured on 2026-12-06, Intel Xeon, 2 cores, 24 layers (2.95 GB); plain reading 26.2 GB/s:

| rows | compiled products | TensorFlow's matmul |
|---|---|---|
| 10 (the default recipe's samples) | 21.9 GB/s | 9.9 GB/s |
| 40 | 11.0 GB/s | 8.3 GB/s |

At 40 rows the products cost arithmetic as well as reading: 40 fused multiply-adds for each
weight read, about 110 GFMA/s on the two cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = ((1600, 4800), (1600, 1600), (1600, 6400), (6400, 1600))  # GPT-2 XL's four products a layer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[10, 40], help="rows of x: the samples (default: 10 40)")
    ap.add_argument("--layers", type=int, default=24, help="layers' weights, each read once a run (default: 24)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import numpy as np

    from generator.samples.engine import kernels
    from generator.samples.engine.tf import load

    tf, _ = load()
    kernel = kernels.load(tf)
    if kernel is None:
        print("the compiled kernels cannot be built here (no C++ compiler, or no fused multiply-add)")
        return 1
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        weights = [(tf.Variable(tf.random.normal(shape, stddev=0.02, seed=i)), tf.zeros([shape[1]]))
                   for i, shape in enumerate(SHAPES * args.layers)]
        init = v1.global_variables_initializer()
        plain = tf.add_n([tf.reduce_sum(w) for w, _ in weights]).op
        runs = {}
        for rows in args.rows:
            x = v1.placeholder(tf.float32, [rows, SHAPES[0][0]])
            wide = tf.tile(x, [1, 4])  # the 6400-deep product's input
            ins = [x if w.shape[0] == x.shape[1] else wide for w, _ in weights]
            runs[rows] = (x, [getattr(kernel, kernels.DENSE)(i, w, b).op for i, (w, b) in zip(ins, weights)],
                          [tf.matmul(i, w).op for i, (w, _) in zip(ins, weights)])
    threads = len(os.sched_getaffinity(0))
    config = v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
    size = sum(a * b for a, b in SHAPES) * args.layers * 4
    print(f"{args.layers} layers of GPT-2 XL's products, {size / 1e9:.2f} GB of weights, {threads} threads")
    with v1.Session(graph=graph, config=config) as sess:
        sess.run(init)
        sums = []
        for _ in range(args.rounds + 1):
            start = time.perf_counter()
            sess.run(plain)
            sums.append(time.perf_counter() - start)
        print(f"  plain reading (a sum of every weight): {size / statistics.median(sums[1:]) / 1e9:.1f} GB/s")
        for rows, (x, compiled, matmul) in runs.items():
            feed = {x: np.random.default_rng(0).standard_normal((rows, SHAPES[0][0]), dtype=np.float32)}
            seconds: dict[str, list[float]] = {"compiled products": [], "TensorFlow's matmul": []}
            for _ in range(args.rounds + 1):  # the first round warms up, and is not counted
                for name, fetch in (("compiled products", compiled), ("TensorFlow's matmul", matmul)):
                    start = time.perf_counter()
                    sess.run(fetch, feed)
                    seconds[name].append(time.perf_counter() - start)
            for name, times in seconds.items():
                median = statistics.median(times[1:])
                print(f"  {rows} rows, {name}: {size / median / 1e9:.1f} GB/s ({median * 1000:.0f} ms a run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
