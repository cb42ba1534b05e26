#!/usr/bin/env python3
"""The sampling step's compiled kernels against TensorFlow's operations, in one process.

    python bench/kernels.py [--model 124M] [--rounds 6]

Builds two fast engines on the bench checkpoint of that shape (``bench/generation.py`` makes
it): one with the compiled kernels (engine version 5, ``engine/step_kernels.cc``: the attention,
the norms, the matrix products, and the fine-tune's restore and update)
and one running the step as TensorFlow operations (version 3, ``FastEngine(kernel=False)``).
Each round runs one passage of the exhibit on each, in turn, so both see the same hour of
this machine; it prints each engine's sampling seconds, fastest and median.

Measured on 2026-12-06, Intel Xeon, 2 cores, 124M's shape, 6 rounds, 10 x 100:

| step | sampling, median | fastest |
|---|---|---|
| TensorFlow's operations (version 3) | 7.28 s | 7.15 s |
| compiled attention and norms (version 4) | 6.41 s | 6.34 s |

The compiled attention alone, in an earlier run of the same: 6.46 s against 6.99 s. A
bias-and-GELU kernel as well: 6.34 s against 7.15 s, no better, so it is not in. The
output layer against a transposed copy of the embeddings (made each run): 6.33 s against
6.54 s for the vocabulary blocks, but the copy raised the whole ``generate``'s peak on
1558M's shape to 8.88 GB, over its 8.79 GB budget, so it is not in either.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="124M", help="the bench checkpoint's shape (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()

    from generator.content import ContentLayout, read_essays
    from generator.samples.cache import Params
    from generator.samples.engine.fast import FastEngine

    folder = ROOT / "models" / f"bench-{args.model}"
    if not folder.exists():
        print(f"{folder} is missing: python bench/generation.py --model {args.model} --passages 1 makes it", file=sys.stderr)
        return 1
    texts = [p.text for e in read_essays(ContentLayout(ROOT / "content")) for p in e.passages][:3]
    params = Params(temperature=0.8, top_k=30, length=100, seed=1, finetune_steps=1, learning_rate=1e-4, train_on="passage")
    engines = {"compiled (version 5)": FastEngine(folder), "TensorFlow's operations (version 3)": FastEngine(folder, kernel=False)}
    if next(iter(engines.values())).kernel is None:
        print("the kernels did not load (see the log): both engines would be version 3", file=sys.stderr)
        return 1
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    for r in range(args.rounds):
        for name, engine in engines.items():
            engine.generate(texts[r % len(texts)], params, 10)
            seconds[name].append(engine.split["sample"])
    for name, values in seconds.items():
        print(f"{name}: sampling median {statistics.median(values):.2f} s, fastest {min(values):.2f} s "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    for engine in engines.values():
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
