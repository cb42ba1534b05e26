"""The studio's engine process: `python -m generator.studio.worker`.

The web process never imports TensorFlow; it starts this process the first
time the artist asks for more samples and keeps it for the session, so the
model loads once. Jobs come in on stdin and reports go out on stdout, one
JSON object a line. A job runs through generate's own code (``open_engine``,
``new_run``, ``record``), so a run made here is the run `generate` would make
with those parameters, and it is appended to the sample cache atomically.
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
    p.add_argument("--recipe", default="fast")
    p.add_argument("--finetune-steps", type=int, default=1)
    p.add_argument("--train-on", default="passage")
    args = p.parse_args(argv)
    out = report_channel()  # whatever TensorFlow prints must not reach it

    from ..config import load_config
    from ..content.essays import parse_essay
    from ..errors import InputError
    from ..samples.cache import Params
    from ..samples.generate import new_run
    from ..samples.record import record

    engine = None
    fp = ""
    for line in sys.stdin:
        job = json.loads(line)
        jid = job["job"]
        try:
            if engine is None:
                say(out, job=jid, stage="loading", message=f"loading {args.model} (once per studio session)")
                engine, fp = load_engine(args.models_dir, args.model, args.recipe, max_finetune_steps=args.finetune_steps,
                                         window=args.train_on == "window")
            config = load_config(Path(job["site_toml"]))
            essay = parse_essay(Path(job["essay_path"]), passage_size=config.passage_size, splitter=config.sentence_splitter)
            passage = next((x for x in essay.passages if x.key == job["passage"]), None)
            if passage is None:
                raise InputError(job["essay_path"], f"passage {job['passage']} is no longer in the essay")
            params = Params(**job["params"])
            engine.check_fits(len(engine.encode(passage.text)), params.length)
            say(out, job=jid, stage="running", message=f"fine-tuning on passage {passage.index + 1} and sampling {job['samples']}")
            start = time.perf_counter()
            run, result = new_run(engine, args.model, fp, passage.text, params, job["samples"])
            done = record(Path(job["cache_path"]), essay.slug, passage, [run])
            run = done.runs[0]  # as stored: its id may have been made unique
            say(out, job=jid, stage="done", run=run.id, new=done.new[0], seconds=time.perf_counter() - start,
                 finetune_seconds=result.finetune_seconds, sample_seconds=result.sample_seconds,
                 usable=sum(1 for f in run.flags if not f), samples=len(run.samples))
        except Exception as exc:  # reported to the page; the worker stays up for the next job
            say(out, job=jid, stage="error", message=str(exc))
    if engine is not None:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
