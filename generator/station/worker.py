"""The station's engine process: `python -m generator.station.worker`.

Like the studio's worker, it loads the model once and takes one request a line
on stdin, reporting on stdout one JSON object a line; the web process never
imports TensorFlow. For a request it samples GPT-2 untamed on the base weights
(when asked), then fine-tunes on the visitor's passage and samples the piece's
configuration through the engine's own ``finetune`` and ``sample``, then
restores the base weights, so no visitor's words shape the next answer.
Nothing is written anywhere: the samples go back to the web process only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..samples.channel import load_engine, report_channel, say


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models-dir", type=Path, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--finetune-steps", type=int, default=1)
    args = p.parse_args(argv)
    out = report_channel()  # whatever TensorFlow prints must not reach it

    from ..samples.cache import Params
    from ..samples.quality import flag

    engine = None
    fp = ""
    for line in sys.stdin:
        job = json.loads(line)
        rid = job["id"]
        try:
            if engine is None:
                say(out, id=rid, stage="loading")
                engine, fp = load_engine(args.models_dir, args.model, "fast", max_finetune_steps=args.finetune_steps)
            prompt = job["passage"]
            tamed = Params(**job["tamed"])
            engine.check_fits(len(engine.encode(prompt)), tamed.length)
            report: dict = {"fingerprint": fp, "platform": engine.platform.as_dict() if engine.platform else None,
                            "origin": engine.origin.as_dict() if engine.origin else None}
            if job.get("untamed"):
                untamed = Params(**job["untamed"])
                say(out, id=rid, stage="untamed")
                start = time.perf_counter()
                engine.reset()
                report["untamed"] = engine.sample(prompt, untamed, 1)[0]
                report["untamed_seconds"] = time.perf_counter() - start
                say(out, id=rid, stage="finetuning", untamed=report["untamed"], untamed_seconds=report["untamed_seconds"])
            else:
                say(out, id=rid, stage="finetuning")
            start = time.perf_counter()
            if tamed.finetune_steps:
                engine.finetune(prompt, tamed)
            else:
                engine.reset()
            report["finetune_seconds"] = time.perf_counter() - start
            say(out, id=rid, stage="sampling", finetune_seconds=report["finetune_seconds"])
            start = time.perf_counter()
            samples = engine.sample(prompt, tamed, job["samples"])
            report["sample_seconds"] = time.perf_counter() - start
            report["samples"] = samples
            report["flags"] = [flag(prompt, s) for s in samples]
            start = time.perf_counter()
            engine.reset()  # the base weights again, before anyone else's words
            report["reset_seconds"] = time.perf_counter() - start
            say(out, id=rid, stage="done", **report)
        except Exception as exc:  # reported to the page; the worker stays up for the next request
            if engine is not None:
                try:
                    engine.reset()
                except Exception:  # noqa: BLE001 - the process must not keep a visitor's weights
                    engine.close()
                    say(out, id=rid, stage="error", message=f"the engine could not restore its weights ({exc})")
                    return 1
            say(out, id=rid, stage="error", message=str(exc))
    if engine is not None:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
