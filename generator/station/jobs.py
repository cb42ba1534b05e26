"""Visitors' requests, seen from the web process: one queue, one engine worker.

Requests run one at a time, first come first served, in the engine worker
(``generator.samples.worker``, through ``channel.Worker``: the studio's program) started on the
first request and kept, so the model loads once. Loading has its own budget
(``LOAD_SECONDS``) and its own stage; the timeout counts from the end of loading. A request
older than the timeout, waiting or running, is dropped with a message; one that overruns while
running takes the worker with it (a fresh one starts for the next). Results live in memory
only, for the page to fetch, and are forgotten a few minutes later. A visitor reads only
sentences meant for a visitor: the worker's own words go to the log. This module never imports
TensorFlow.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..samples.channel import Closed, Worker, worker_command
from ..samples.request import Request

log = logging.getLogger(__name__)
_MOVES = threading.Lock()
FORGET_AFTER = 300.0  # seconds a finished request stays fetchable
LOAD_SECONDS = 900.0  # the most a worker may take to load the model (TensorFlow and 1558M's 6 GB from a slow disk)
STAGES = ("queued", "loading", "untamed", "finetuning", "sampling", "done", "error")
TRY_AGAIN = "The station could not continue your words this time; please try again."


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
    clock_from: float | None = None  # when its timeout started: its turn came with the model loaded, or loading ended
    changed: threading.Event = field(default_factory=threading.Event, repr=False)  # set at every move, and when loading ends

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
            self.changed.set()
            return True


class StationEngine:
    """The queue and the engine worker behind it."""

    def __init__(self, request: Request, timeout: float, on_finish: Callable[[Visit], None] | None = None,
                 *, command: list[str] | None = None, load_seconds: float = LOAD_SECONDS, load_estimate: float = 30.0):
        self.request, self.timeout, self.load_seconds = request, timeout, load_seconds
        self.on_finish = on_finish  # called in the dispatcher once a request is done or dropped
        self.worker = Worker(command or worker_command(request), on_report=self._report, on_exit=self._exited, name="station's engine worker")
        self._warm: subprocess.Popen | None = None  # the process that has the model loaded
        self._visits: dict[str, Visit] = {}
        self._queue: collections.deque[Visit] = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._closed = False
        self.seconds: dict[str, float] = {"loading": load_estimate}  # the last request's time per stage: the progress bar's estimate
        self._dispatcher = threading.Thread(target=self._dispatch, name="station-dispatcher", daemon=True)
        self._dispatcher.start()

    # -- the web process's side

    @property
    def proc(self) -> subprocess.Popen | None:
        """The worker process, while one runs (None before the first request)."""
        return self.worker.proc

    def submit(self, passage: str, tamed: dict, samples: int, untamed: dict | None, context: object = None) -> Visit:
        with self._lock:
            self._forget()
            visit = Visit(f"v{next(self._ids)}-{os.urandom(4).hex()}", passage, tamed, samples, untamed, context=context)
            self._visits[visit.id] = visit
            if self._closed:
                visit.move("error", "The station is closing; please try again in a moment.")
                return visit
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

    def load_estimate(self) -> float:
        """About how long loading the model takes: the last load's time, or the first guess."""
        return self.seconds["loading"]

    def progress(self, visit: Visit) -> float:
        """0..1 for the page's bar: the stages done, and the one under way by the last request's timing."""
        if visit.stage == "done":
            return 1.0
        order = [s for s in ("loading", "untamed", "finetuning", "sampling")
                 if (s != "untamed" or visit.untamed) and (s != "loading" or "loading" in visit.seen)]  # a warm worker does not load
        if visit.stage not in order:
            return 0.0
        guess = {"untamed": 2.0, "finetuning": 2.0, "sampling": 10.0}
        spans = [self.seconds.get(s, guess.get(s, 1.0)) for s in order]
        i = order.index(visit.stage)
        within = min(0.95, (time.monotonic() - visit.stage_started) / max(spans[i], 0.1))
        return round((sum(spans[:i]) + within * spans[i]) / sum(spans), 3)

    def close(self) -> None:
        """Take no more requests, let the one in hand end (its worker stopped), drop those
        queued, reap the worker and join the dispatcher: nothing starts after this."""
        with self._lock:
            self._closed = True
            queued, self._queue = list(self._queue), collections.deque()
            self._wake.notify()
        for visit in queued:
            visit.move("error", "The station is closing; please try again in a moment.")
        self.worker.close()
        self._dispatcher.join(timeout=60)

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
                except Exception:  # noqa: BLE001 - one request's failure must not stop the queue
                    log.exception("request %s", visit.id)
                    visit.move("error", TRY_AGAIN)
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
        timeout; loading the model then has its own budget; and the run has the timeout again,
        counted from the end of loading (so a long wait or a slow load never starves its own run)."""
        visit.began = time.monotonic()
        if visit.began - visit.created > self.timeout:
            visit.move("error", f"The station was busy for more than {self.timeout:.0f} seconds; please try again.")
            return
        line = {"kind": "visit", "job": visit.id, "passage": visit.passage, "params": visit.tamed, "samples": visit.samples, "untamed": visit.untamed}
        try:
            self.worker.send(line, bind=lambda proc: setattr(visit, "worker", proc))
        except (OSError, Closed) as exc:
            log.error("request %s: the engine worker could not take it (%s)", visit.id, exc)
            visit.move("error", TRY_AGAIN)
            return
        if visit.worker is self._warm:
            visit.clock_from = visit.began
        while True:
            visit.changed.clear()
            if visit.over:
                return
            now = time.monotonic()
            if visit.clock_from is None:  # the model is loading
                left = self.load_seconds - (now - visit.began)
                why = f"The model took more than {self.load_seconds:.0f} seconds to load, so the station stopped it; please try again."
            else:
                left = self.timeout - (now - visit.clock_from)
                why = f"That took longer than {self.timeout:.0f} seconds, so the station stopped it; please try again."
            if left <= 0:
                log.warning("request %s: %s", visit.id, why)
                visit.move("error", why)  # first: the killed worker's end must not say otherwise
                self.worker.kill(visit.worker)
                return
            visit.changed.wait(left)

    def _report(self, proc: subprocess.Popen, report: dict) -> None:
        visit = self._visits.get(report.pop("job", ""))
        if visit is None or visit.over or visit.worker is not proc:
            return
        stage = report.pop("stage", visit.stage)
        now = time.monotonic()
        if stage == "loaded":
            self._warm = proc
            self.seconds["loading"] = float(report.get("load_seconds", now - visit.stage_started))
            visit.clock_from = now
            visit.changed.set()
            return
        if stage == "error":  # the worker's words (they may name files) go to the log; the visitor reads its public sentence
            log.warning("request %s: %s", visit.id, report.get("message", ""))
            visit.move("error", report.get("public") or TRY_AGAIN)
            return
        report.pop("message", None)
        report.pop("public", None)
        visit.result.update(report)
        if stage != visit.stage and visit.stage in ("untamed", "finetuning", "sampling"):
            self.seconds[visit.stage] = now - visit.stage_started
        if stage != visit.stage or stage == "done":
            visit.move(stage)

    def _exited(self, proc: subprocess.Popen, code: int) -> None:
        if self._warm is proc:
            self._warm = None
        running = self._running
        if running is not None and running.worker is proc and not running.over:  # never its successor's request
            log.warning("request %s: the engine worker stopped (exit %s)", running.id, code)
            running.move("error", TRY_AGAIN)
