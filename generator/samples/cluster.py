"""`python build.py generate --ray`: a long text's passages spread over Ray workers.

Each worker is a Ray actor holding one engine, the model loaded once, with a fixed thread count
(oneDNN's sums are exact for one thread count: a passage's samples are the same bytes whichever
worker made them, and the same as one process's with that count, ``generate --threads``).
Passages are independent, so they go to whichever worker is free, two queued at each so that
the next is there when one ends. What a worker makes comes back to the driver, which alone
appends it to the sample store, through ``generate.record_passage``, as it arrives: an
interrupted run resumes where it stopped, as one process's does.

A worker lost mid-passage (its process killed, its machine gone) is Ray's to handle: the actor
is started again (``max_restarts``) and the passage it held is run again there
(``max_task_retries``). Nothing of a lost passage reached the driver, so nothing partial is
recorded, and a passage made twice would be the same run, found rather than added again. A
worker lost more than ``RESTARTS`` times is let go, and its passages go to the others; a run in
which no worker answers for long (none can be placed) stops with a message instead of waiting
forever. Either way what came back is recorded, and the next run goes on from there.

The driver never imports TensorFlow. Ray is an optional requirement (``requirements.txt``'s
``ray`` part).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

from ..content.essays import Essay, Passage
from ..errors import InputError
from ..platform import THREADS_ENV, schedulable_cpus
from .cache import PassageSamples, Run
from .generate import Summary, engine_options, prepare, record_passage, verbosify_passage
from .request import Request
from .store import load_passage

log = logging.getLogger(__name__)

QUEUED = 2  # passages held at each worker: one running, the next waiting for it
RESTARTS = 3  # a worker lost more often than this (a passage that kills it every time, say) is let go
FIRST_SECONDS = 1800.0  # the longest wait for a first passage: loading 1558M on a slow machine takes minutes
STALL_SECONDS, STALL_FACTOR = 600.0, 20  # then: no passage for 20 times the slowest gap yet (10 minutes at least) is a stall
PACKAGE = Path(__file__).resolve().parent.parent  # generator/, shipped to every worker (py_modules)


def import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(None, "--ray needs Ray, an optional requirement: pip install $(grep -E '^ray==' requirements.txt | sed 's/ *#.*//')") from None
    return ray


class EngineWorker:
    """One engine in a Ray actor's process, the model loaded once (``ray.remote`` makes it an actor).
    The model's folder must be at the same path on every machine."""

    def __init__(self, folder: str, request: Request, fingerprint: str, threads: int):
        os.environ[THREADS_ENV] = str(threads)  # before the engine's session is made
        from .engine.factory import open_engine

        self.engine = open_engine(Path(folder), request.recipe, **engine_options(request))
        self.request, self.fingerprint = request, fingerprint
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def verbosify(self, n: int, passage: Passage, entry: PassageSamples | None) -> tuple[int, list[Run], Summary, str]:
        """Passage ``n`` of the run: its new runs (``generate.verbosify_passage``), what they cost, and who made them."""
        summary = Summary()
        runs = verbosify_passage(self.engine, self.request.model, self.fingerprint, passage, self.request, summary, entry)
        return n, runs, summary, self.name


def _connect(ray, address: str, workers: int | None, threads: int | None) -> tuple[int, int]:
    """Start a local cluster (``address`` "local") or join one; (workers, threads each)."""
    runtime_env = {"py_modules": [str(PACKAGE)]}
    if address == "local":
        cpus = schedulable_cpus()
        workers = workers or max(1, cpus // (threads or 1))
        threads = threads or max(1, cpus // workers)
        ray.init(num_cpus=workers * threads, include_dashboard=False, log_to_driver=False, configure_logging=False, runtime_env=runtime_env)
    else:
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False, runtime_env=runtime_env)
        except ConnectionError as exc:
            raise InputError(None, f"no Ray cluster at {address} ({exc}); start one with `ray start --head` (see the README)") from None
        threads = threads or 1
        workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    return workers, threads


def generate_on_ray(essays: list[Essay], cache_path, request: Request, *, address: str = "local", workers: int | None = None,
                    threads: int | None = None, progress: bool = True, explore_path=None) -> Summary | None:
    """`generate --ray [auto|ADDRESS] [--workers N] [--threads T]`: ``generate.prepare`` here, then
    every passage on the cluster's workers, each recorded here as it comes back (None: nothing
    was left to do)."""
    from tqdm import tqdm

    ray = import_ray()
    folder, fp, todo = prepare(essays, cache_path, request, explore_path)
    if not todo:
        return None
    summary = Summary(skipped=sum(1 for e in essays for p in e.passages if not p.problem) - len(todo))
    try:
        workers, threads = _connect(ray, address, workers, threads)
        actor = ray.remote(EngineWorker).options(num_cpus=threads, max_restarts=RESTARTS, max_task_retries=-1)
        log.info("%d Ray worker(s) of %d thread(s) each, loading %s (%s recipe) for %d passage(s) ...", workers, threads, folder, request.recipe, len(todo))
        pool = [actor.remote(str(folder.resolve()), request, fp, threads) for _ in range(workers)]
        live = list(pool)
        queue = list(range(len(todo)))
        running: dict = {}  # the passage's future -> (the worker it went to, the passage)

        def send(worker) -> None:
            if queue and worker in live:
                n = queue.pop(0)
                essay, passage = todo[n]
                running[worker.verbosify.remote(n, passage, load_passage(cache_path(essay.slug), essay.slug, passage.key))] = (worker, n)

        for worker in pool:
            for _ in range(QUEUED):
                send(worker)
        makers: dict[int, str] = {}  # each worker's process, as its last passage said
        restarts = 0
        start = last = time.perf_counter()
        slowest = 0.0
        with tqdm(total=len(todo), desc=f"verbosifying on Ray ({request.recipe}, {request.model})", unit="passage", disable=not progress) as bar:
            while running:
                # a worker that can be placed nowhere (its machine gone, the cluster too small) never answers: say so, never wait forever
                limit = FIRST_SECONDS if not makers else max(STALL_SECONDS, STALL_FACTOR * slowest)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=max(1.0, limit - (time.perf_counter() - last)))
                if not ready:
                    raise InputError(None, f"no Ray worker has answered for {limit:.0f} s ({len(live)} of {workers} still held), so generate "
                                           "stopped; every passage that came back is recorded: see `ray status`, and run it again to go on")
                (done,) = ready
                worker, n = running.pop(done)
                key = pool.index(worker)
                try:
                    n, runs, made, name = ray.get(done)
                except ray.exceptions.RayActorError as exc:  # started again RESTARTS times, and lost again: let go; its passages go to the others
                    if worker in live:
                        live.remove(worker)
                        log.warning("Ray worker %d is lost for good (%s); its passages go to the %d others", key + 1, str(exc).splitlines()[0], len(live))
                    queue.insert(0, n)
                    if not live:
                        raise InputError(None, "every Ray worker was lost, so generate stopped; every passage that came back is recorded: "
                                               "run it again to go on") from None
                    for other in live:
                        if sum(1 for w, _ in running.values() if w is other) < QUEUED:
                            send(other)
                    continue
                except ray.exceptions.RayError as exc:
                    raise InputError(None, f"a Ray worker failed, so generate stopped (every passage that came back is recorded; run it again to go on): {exc}") from None
                now = time.perf_counter()
                slowest, last = max(slowest, now - last if makers.get(key) else 0.0), now
                essay, passage = todo[n]
                record_passage(cache_path(essay.slug), essay, passage, runs, request.recipe, fp, request, summary)
                summary.runs += made.runs
                summary.escalated += made.escalated
                summary.finetune_seconds += made.finetune_seconds
                summary.sample_seconds += made.sample_seconds
                if makers.get(key, name) != name:
                    restarts += 1
                    log.warning("Ray worker %d was started again (%s, now %s); its passage ran again there", key + 1, makers[key], name)
                makers[key] = name
                bar.set_postfix(workers=f"{len(live)}/{workers}", answered=len(makers), restarted=restarts)
                bar.update(1)
                send(worker)
        summary.seconds = time.perf_counter() - start
        return summary
    finally:
        ray.shutdown()
