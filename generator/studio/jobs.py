""""More samples", seen from the web process: the engine worker and its jobs.

The worker (``generator.studio.worker``) is started on the first request and
kept, so the model loads once per studio session. Jobs run one after another
in it; a thread reads its reports and keeps each job's stage for the page to
poll. This module never imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..samples.channel import reports, start, stop
from ..samples.cache import Params, PassageSamples
from ..samples.policy import next_params
from ..samples.request import Request

log = logging.getLogger(__name__)


@dataclass
class Job:
    id: str
    slug: str
    passage: str
    params: Params
    samples: int
    stage: str = "queued"  # queued, loading, running, done, error
    message: str = "waiting for the engine"
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    result: dict = field(default_factory=dict)
    worker: object = field(default=None, repr=False, compare=False)  # the worker process it was sent to

    @property
    def over(self) -> bool:
        return self.stage in ("done", "error")

    def as_dict(self) -> dict:
        end = self.finished or time.monotonic()
        return {"job": self.id, "essay": self.slug, "passage": self.passage, "stage": self.stage, "message": self.message,
                "seconds": round(end - self.started, 1), **self.result}


class EngineWorker:
    """The worker process and the jobs sent to it. The worker writes the cache itself;
    the studio sees the new run on its next look (the file's signature changed)."""

    def __init__(self, request: Request):
        self.request = request
        self._proc: subprocess.Popen | None = None
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._fingerprint: str | None = None

    def missing(self) -> str | None:
        """Why no run can be made (no model), in words that say how to get one; None when all is well."""
        from ..samples.engine.checkpoint import check_model

        try:
            check_model(self.request.models_dir, self.request.model)
        except InputError as exc:
            return (f"{exc}. Get a model first: `python build.py train-demo-model` (offline, small), "
                    "`python build.py download-model 124M` (OpenAI's GPT-2) or `python build.py import-model PATH` (a Hugging Face folder)")
        return None

    def fingerprint(self) -> str:
        from ..samples.engine.checkpoint import fingerprint, model_folder

        if self._fingerprint is None:
            self._fingerprint = fingerprint(model_folder(self.request.models_dir, self.request.model))
        return self._fingerprint

    def next_params(self, entry: PassageSamples | None) -> Params:
        return next_params(entry, self.request.recipe, self.fingerprint(), self.request.params)

    def vocabulary(self) -> int:
        """How many tokens the model has (read from its hparams.json, without TensorFlow)."""
        from ..samples.engine.checkpoint import Hparams, model_folder

        folder = model_folder(self.request.models_dir, self.request.model)
        try:
            return Hparams.read(folder).n_vocab
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(folder / "hparams.json", f"cannot be read ({exc})") from None

    def submit(self, slug: str, passage: str, params: Params, samples: int, *, essay_path: Path, cache_path: Path, site_toml: Path) -> Job:
        """Queue a run; a request for the same passage, parameters and count while one is
        queued or running joins that job (two would make the same run twice)."""
        problem = self.missing()
        if problem:
            raise InputError(None, problem)
        with self._lock:
            for job in self._jobs.values():
                if not job.over and (job.slug, job.passage, job.params, job.samples) == (slug, passage, params, samples):
                    return job
            job = Job(f"j{next(self._ids)}", slug, passage, params, samples)
            self._jobs[job.id] = job
            proc = self._worker()
            job.worker = proc
            line = {"job": job.id, "passage": passage, "params": dataclasses.asdict(params), "samples": samples,
                    "essay_path": str(essay_path), "cache_path": str(cache_path), "site_toml": str(site_toml)}
            try:
                proc.stdin.write(json.dumps(line) + "\n")
                proc.stdin.flush()
            except OSError as exc:  # it died just now: its reader marks the jobs it had, this one too
                job.stage, job.message, job.finished = "error", f"the engine worker stopped ({exc}); ask again to restart it", time.monotonic()
        return job

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def _worker(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        r = self.request
        log.info("starting the engine worker for %s (%s recipe)", r.model, r.recipe)
        self._proc = start(self.command())
        threading.Thread(target=self._read, args=(self._proc,), daemon=True).start()
        return self._proc

    def command(self) -> list[str]:
        r = self.request
        return [sys.executable, "-m", "generator.studio.worker", "--models-dir", str(r.models_dir.resolve()), "--model", r.model,
                "--recipe", r.recipe, "--finetune-steps", str(r.params.finetune_steps), "--train-on", r.params.train_on]

    def _read(self, proc: subprocess.Popen) -> None:
        for report in reports(proc):
            job = self._jobs.get(report.pop("job", ""))
            if job is None or job.worker is not proc:
                continue
            job.stage = report.pop("stage", job.stage)
            job.message = report.pop("message", job.message)
            job.result.update(report)
            if job.over:
                job.finished = time.monotonic()
                if job.stage == "done":
                    job.message = (f"{report.get('samples', 0)} samples, {report.get('usable', 0)} usable, in {report.get('seconds', 0):.1f} s"
                                   + ("" if report.get("new", True) else "; the same run was already there"))
        code = proc.wait()
        with self._lock:
            for job in self._jobs.values():
                if not job.over and job.worker is proc:  # never the jobs already sent to its successor
                    job.stage, job.message, job.finished = "error", f"the engine worker stopped (exit {code}); ask again to restart it", time.monotonic()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        stop(proc)
