"""The cases of tests/fixtures/sampler_samples.json: samples the sampler drew on the tiny test
checkpoint, with the engine version that drew them, so a change that alters the samples without
a new engine version fails. `python -m tests.sampler_cases MODEL_FOLDER` records them again
(only ever on purpose: with a new version in ``engine/common.py``)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from generator.samples.cache import Params

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "sampler_samples.json"
BASE = Params(temperature=0.8, top_k=30, length=40, seed=2019, finetune_steps=1, learning_rate=1e-4)
PROMPTS = ("Rovers drive slowly across the plains. They carry cameras and drills. Engineers on Earth watch them.",
           "The wheels are made of aluminium. They wear out. Engineers watch them.")
CASES = (
    ("base weights, the piece's knobs, 3 samples", 0, dataclasses.replace(BASE, finetune_steps=0), 3),
    ("one step on the passage at a learning rate that shows, 1 sample", 0, dataclasses.replace(BASE, learning_rate=1e-2), 1),
    ("one step, untamed (top_k 0, temperature 1), 4 samples of 60", 1, dataclasses.replace(BASE, top_k=0, temperature=1.0, length=60, seed=5), 4),
    ("base weights, top_k 1, 2 samples: every row ends at once", 1, dataclasses.replace(BASE, finetune_steps=0, top_k=1, temperature=1.0), 2),
    ("base weights, top_k 1, the first prompt", 0, dataclasses.replace(BASE, finetune_steps=0, top_k=1, temperature=1.0), 1),
)


def draw(engine) -> list[dict]:
    out = []
    for name, prompt, params, n in CASES:
        if params.finetune_steps:
            engine.finetune(PROMPTS[prompt], params)
        else:
            engine.reset()
        rows = engine.sample_tokens(PROMPTS[prompt], params, n)
        out.append({"case": name, "samples": [engine.decode(row) for row in rows]})
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from generator.platform import this_machine
    from generator.samples.engine.checkpoint import fingerprint
    from generator.samples.engine.fast import FastEngine

    folder = Path(sys.argv[1])
    engine = FastEngine(folder)
    doc = {"model_fingerprint": fingerprint(folder), "platform": this_machine(engine.platform.threads).as_dict(),
           "engine": engine.version, "cases": draw(engine)}
    FIXTURE.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {FIXTURE}")
