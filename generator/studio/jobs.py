""""More samples", seen from the web process: the engine worker and its jobs.

The engine worker (``generator.samples.worker``, through ``channel.Worker``, as the station's)
is started on the first request and kept, so the model loads once per studio session. Jobs run
one after another in it; its reader keeps each job's stage for the page to poll. This module
never imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..samples.channel import Closed, Worker, worker_command
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
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._fingerprint: str | None = None
        self.worker = Worker(worker_command(request), on_report=self._report, on_exit=self._exited, name="studio's engine worker")

    @property
    def proc(self) -> subprocess.Popen | None:
        """The worker process, while one runs (None until the first request)."""
        return self.worker.proc

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
            line = {"kind": "record", "job": job.id, "passage": passage, "params": dataclasses.asdict(params), "samples": samples,
                    "essay_path": str(essay_path), "cache_path": str(cache_path), "site_toml": str(site_toml)}
            try:
                self.worker.send(line, bind=lambda proc: setattr(job, "worker", proc))
            except (OSError, Closed) as exc:  # it died just now, or the studio is stopping
                job.stage, job.message, job.finished = "error", f"the engine worker stopped ({exc}); ask again to restart it", time.monotonic()
        return job

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def _report(self, proc: subprocess.Popen, report: dict) -> None:
        job = self._jobs.get(report.pop("job", ""))
        if job is None or job.worker is not proc or job.over:
            return
        stage = report.pop("stage", job.stage)
        if stage == "loaded":
            return
        job.stage = stage
        job.message = report.pop("message", job.message)
        report.pop("public", None)
        job.result.update(report)
        if job.over:
            job.finished = time.monotonic()
            if job.stage == "done":
                job.message = (f"{report.get('samples', 0)} samples, {report.get('usable', 0)} usable, in {report.get('seconds', 0):.1f} s"
                               + ("" if report.get("new", True) else "; the same run was already there"))

    def _exited(self, proc: subprocess.Popen, code: int) -> None:
        with self._lock:
            for job in self._jobs.values():
                if not job.over and job.worker is proc:  # never the jobs already sent to its successor
                    job.stage, job.message, job.finished = "error", f"the engine worker stopped (exit {code}); ask again to restart it", time.monotonic()

    def close(self) -> None:
        self.worker.close()

