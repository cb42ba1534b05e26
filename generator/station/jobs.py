"""Visitors' requests, seen from the web process: one queue, one engine worker.

Requests run one at a time, first come first served, in a worker process
(``generator.station.worker``) started on the first request and kept, so the
model loads once. A request older than the timeout, waiting or running, is
dropped with a message; one that overruns while running takes the worker
with it (a fresh one starts for the next). Results live in memory only, for
the page to fetch, and are forgotten a few minutes later. This module never
imports TensorFlow.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..samples.channel import reports, start, stop

log = logging.getLogger(__name__)
_MOVES = threading.Lock()
FORGET_AFTER = 300.0  # seconds a finished request stays fetchable
STAGES = ("queued", "loading", "untamed", "finetuning", "sampling", "done", "error")


@dataclass
class Visit:
    """One visitor's request and what came back for it."""

    id: str
    passage: str
    tamed: dict  # Params as a dict
    samples: int
    untamed: dict | None
    created: float = field(default_factory=time.monotonic)
    stage: str = "queued"
    stage_started: float = field(default_factory=time.monotonic)
    message: str = ""
    result: dict = field(default_factory=dict)
    began: float | None = None  # when its turn came
    finished: float | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    seen: set = field(default_factory=set, repr=False)  # the stages it went through
    worker: object = field(default=None, repr=False)  # the process it was sent to
    context: object = field(default=None, repr=False)  # the caller's own (the station's Passage)

    @property
    def over(self) -> bool:
        return self.stage in ("done", "error")

    def move(self, stage: str, message: str = "") -> bool:
        """Go on to ``stage``; once done or failed, nothing moves it again (the first end wins:
        a timeout and its killed worker's last words never both land). Says whether it moved."""
        with _MOVES:
            if self.over:
                return False
            self.stage, self.stage_started = stage, time.monotonic()
            self.seen.add(stage)
            if message:
                self.message = message
            if self.over:
                self.finished = time.monotonic()
                self.done.set()
            return True


class StationEngine:
    """The queue and the worker process behind it."""

    def __init__(self, models_dir: Path, model: str, finetune_steps: int, timeout: float, on_finish: Callable[[Visit], None] | None = None):
        self.models_dir, self.model, self.finetune_steps, self.timeout = models_dir, model, finetune_steps, timeout
        self.on_finish = on_finish  # called in the dispatcher once a request is done or dropped
        self._proc: subprocess.Popen | None = None
        self._visits: dict[str, Visit] = {}
        self._queue: collections.deque[Visit] = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._closed = False
        self.seconds: dict[str, float] = {}  # the last request's time per stage: the progress bar's estimate
        self._dispatcher = threading.Thread(target=self._dispatch, name="station-dispatcher", daemon=True)
        self._dispatcher.start()

    # -- the web process's side

    def submit(self, passage: str, tamed: dict, samples: int, untamed: dict | None, context: object = None) -> Visit:
        with self._lock:
            self._forget()
            visit = Visit(f"v{next(self._ids)}-{os.urandom(4).hex()}", passage, tamed, samples, untamed, context=context)
            self._visits[visit.id] = visit
            self._queue.append(visit)
            self._wake.notify()
        return visit

    def visit(self, vid: str) -> Visit | None:
        return self._visits.get(vid)

    def ahead_of(self, visit: Visit) -> int:
        """How many requests run before this one (0: it is running, or next)."""
        with self._lock:
            if visit.stage != "queued":
                return 0
            try:
                return list(self._queue).index(visit) + (1 if self._running else 0)
            except ValueError:
                return 0

    def progress(self, visit: Visit) -> float:
        """0..1 for the page's bar: the stages done, and the one under way by the last request's timing."""
        if visit.stage == "done":
            return 1.0
        order = [s for s in ("loading", "untamed", "finetuning", "sampling")
                 if (s != "untamed" or visit.untamed) and (s != "loading" or "loading" in visit.seen)]  # a warm worker does not load
        if visit.stage not in order:
            return 0.0
        guess = {"loading": 20.0, "untamed": 2.0, "finetuning": 2.0, "sampling": 10.0}
        spans = [self.seconds.get(s, guess[s]) for s in order]
        i = order.index(visit.stage)
        within = min(0.95, (time.monotonic() - visit.stage_started) / max(spans[i], 0.1))
        return round((sum(spans[:i]) + within * spans[i]) / sum(spans), 3)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        proc, self._proc = self._proc, None
        stop(proc)

    # -- the dispatcher: one request at a time

    _running: Visit | None = None

    def _forget(self) -> None:
        now = time.monotonic()
        for vid in [v.id for v in self._visits.values() if v.finished and now - v.finished > FORGET_AFTER]:
            del self._visits[vid]

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                visit = self._queue.popleft()
                self._running = visit
            try:
                try:
                    self._run(visit)
                except Exception as exc:  # noqa: BLE001 - one request's failure must not stop the queue
                    log.exception("request %s", visit.id)
                    visit.move("error", f"The station could not run this ({exc}); please try again.")
                if self.on_finish is not None:
                    try:
                        self.on_finish(visit)
                    except Exception:  # noqa: BLE001 - one request's failure must not stop the queue
                        log.exception("finishing request %s", visit.id)
                        visit.result.pop("view", None)
                        visit.message = "Something went wrong putting the answer together; please try again."
                        visit.result["failed"] = True
            finally:
                with self._lock:
                    self._running = None

    def _run(self, visit: Visit) -> None:
        """Send ``visit`` to the worker and wait for it: it may have waited its turn for up to the
        timeout, and may then run for as long again (so a long wait never starves its own run)."""
        visit.began = time.monotonic()
        if visit.began - visit.created > self.timeout:
            visit.move("error", f"The station was busy for more than {self.timeout:.0f} seconds; please try again.")
            return
        left = self.timeout
        try:
            proc = visit.worker = self._worker()
            proc.stdin.write(json.dumps({"id": visit.id, "passage": visit.passage, "tamed": visit.tamed,
                                         "samples": visit.samples, "untamed": visit.untamed}) + "\n")
            proc.stdin.flush()
        except OSError as exc:
            visit.move("error", f"The engine could not start ({exc}).")
            return
        if not visit.done.wait(left):
            log.warning("request %s ran past %.0f s: stopping the engine worker", visit.id, self.timeout)
            self._kill()
            visit.move("error", f"That took longer than {self.timeout:.0f} seconds, so the station stopped it; please try again.")

    def _worker(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        log.info("starting the station's engine worker for %s", self.model)
        self._proc = start(self.command())
        threading.Thread(target=self._read, args=(self._proc,), daemon=True).start()
        return self._proc

    def command(self) -> list[str]:
        return [sys.executable, "-m", "generator.station.worker", "--models-dir", str(self.models_dir.resolve()),
                "--model", self.model, "--finetune-steps", str(self.finetune_steps)]

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()

    def _read(self, proc: subprocess.Popen) -> None:
        for report in reports(proc):
            visit = self._visits.get(report.pop("id", ""))
            if visit is None or visit.over:
                continue
            stage = report.pop("stage", visit.stage)
            message = report.pop("message", "")
            visit.result.update(report)
            if stage != visit.stage and visit.stage in ("loading", "untamed", "finetuning", "sampling"):
                self.seconds[visit.stage] = time.monotonic() - visit.stage_started
            visit.move(stage, message)
        code = proc.wait()
        running = self._running
        if running is not None and running.worker is proc and not running.over:  # never its successor's request
            running.move("error", f"The engine stopped (exit {code}); please try again.")
