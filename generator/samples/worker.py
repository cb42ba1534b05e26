"""The engine worker: `python -m generator.samples.worker`, the one program the studio and the
station run their engine in (``channel.Worker`` starts it), so that neither web process ever
imports TensorFlow.

It loads the model once, with the exhibit's recipe, fine-tune steps and ``train_on``, then takes
one job a line on stdin and reports on stdout (``channel.say``), one JSON object a line, each
carrying the job's id. Two kinds of job, both through ``generate``'s own code:

* ``record`` (the studio's More samples): one run of the passage with the parameters given,
  ``new_run`` and ``record``, appended to the essay's sample cache as `generate` would.
* ``visit`` (the station): a visitor's words verbosified by ``verbosify_passage``, the request
  path of `generate` itself (its parameters, its escalation ladder when samples come back
  empty, its flags), beside one sample of the model untamed when asked. Nothing is written:
  the runs go back to the web process. The base weights are restored after every visit, so no
  visitor's words shape the next answer.

An error is reported with ``public``: the sentence a visitor may read (the artist's detail, with
paths, goes in ``message`` for the log).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .channel import load_engine, report_channel, say


def _record(engine, args, fp: str, job: dict, out) -> dict:
    from ..config import load_config
    from ..content.essays import parse_essay
    from ..errors import InputError
    from .cache import Params
    from .generate import new_run
    from .record import record

    config = load_config(Path(job["site_toml"]))
    essay = parse_essay(Path(job["essay_path"]), passage_size=config.passage_size, splitter=config.sentence_splitter)
    passage = next((x for x in essay.passages if x.key == job["passage"]), None)
    if passage is None:
        raise InputError(job["essay_path"], f"passage {job['passage']} is no longer in the essay")
    params = Params(**job["params"])
    engine.check_fits(len(engine.encode(passage.text)), params.length)
    say(out, job=job["job"], stage="running", message=f"fine-tuning on passage {passage.index + 1} and sampling {job['samples']}")
    start = time.perf_counter()
    run, result = new_run(engine, args.model, fp, passage.text, params, job["samples"])
    done = record(Path(job["cache_path"]), essay.slug, passage, [run])
    run = done.runs[0]  # as stored: its id may have been made unique
    return {"run": run.id, "new": done.new[0], "seconds": time.perf_counter() - start, "finetune_seconds": result.finetune_seconds,
            "sample_seconds": result.sample_seconds, "usable": sum(1 for f in run.flags if not f), "samples": len(run.samples)}


def _visit(engine, args, fp: str, job: dict, out) -> dict:
    from ..content.essays import Passage
    from .cache import Params, run_as_dict
    from .generate import Summary, verbosify_passage
    from .request import Request

    jid, prompt = job["job"], job["passage"]
    params = Params(**job["params"])
    engine.check_fits(len(engine.encode(prompt)), params.length)
    report: dict = {"fingerprint": fp, "origin": engine.origin.as_dict() if engine.origin else None}
    try:
        if job.get("untamed"):
            say(out, job=jid, stage="untamed")
            engine.on_stage = None
            start = time.perf_counter()
            report["untamed"] = engine.generate(prompt, Params(**job["untamed"]), 1).continuations[0]
            report["untamed_seconds"] = time.perf_counter() - start
            say(out, job=jid, stage="untamed", untamed=report["untamed"], untamed_seconds=report["untamed_seconds"])
        engine.on_stage = lambda stage: say(out, job=jid, stage=stage)
        request = Request(args.model, args.models_dir, engine.recipe, job["samples"], params)
        summary = Summary()
        runs = verbosify_passage(engine, args.model, fp, Passage("visitor", 0, 0, prompt, ""), request, summary)
        report.update(runs=[run_as_dict(r) for r in runs], finetune_seconds=summary.finetune_seconds, sample_seconds=summary.sample_seconds)
    finally:
        engine.on_stage = None
        engine.reset()  # the base weights again, before anyone else's words
    return report


def _public(exc: Exception) -> str:
    """What a visitor may read of an error: never a path or a command."""
    from .engine.common import PromptTooLong

    if isinstance(exc, PromptTooLong):
        return "Those words are too long for the model to continue; try fewer."
    return "The station could not continue your words this time; please try again."


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models-dir", type=Path, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--recipe", default="fast")
    p.add_argument("--finetune-steps", type=int, default=1)
    p.add_argument("--train-on", default="passage")
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--length", type=int, default=100)
    args = p.parse_args(argv)
    out = report_channel()  # whatever TensorFlow prints must not reach it

    engine = None
    fp = ""
    for line in sys.stdin:
        job = json.loads(line)
        jid = job["job"]
        try:
            if engine is None:
                say(out, job=jid, stage="loading", message=f"loading {args.model} (once, when the worker starts)")
                start = time.perf_counter()
                engine, fp = load_engine(args.models_dir, args.model, args.recipe, max_finetune_steps=args.finetune_steps,
                                         window=args.train_on == "window", samples=args.samples, length=args.length)
                say(out, job=jid, stage="loaded", load_seconds=time.perf_counter() - start)
            done = (_visit if job.get("kind") == "visit" else _record)(engine, args, fp, job, out)
            say(out, job=jid, stage="done", **done)
        except Exception as exc:  # reported; the worker stays up for the next job
            if engine is not None and job.get("kind") == "visit":
                try:
                    engine.reset()
                except Exception as again:  # noqa: BLE001 - the process must not keep a visitor's weights
                    engine.close()
                    say(out, job=jid, stage="error", message=f"the engine could not restore its weights ({again})", public=_public(again))
                    return 1
            say(out, job=jid, stage="error", message=str(exc), public=_public(exc))
    if engine is not None:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
