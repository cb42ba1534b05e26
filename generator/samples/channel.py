"""The engine worker, seen from both sides: the one program (``generator.samples.worker``) that
the studio and the station run their engine in, and ``Worker``, which a web process uses to
start it, speak its line protocol, restart it, kill it and stop it.

The worker takes one JSON object a line on stdin and answers on stdout through ``say``, after
``report_channel`` has moved everything else that writes to stdout (TensorFlow) onto stderr.
Every process ``Worker`` starts is reaped, and its reader thread joined, when it is stopped or
killed; once closed, it starts no other.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

PROJECT_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


def start(command: list[str]) -> subprocess.Popen:
    """The worker process, run from the project with the project importable, piped both ways."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT)


def reports(proc: subprocess.Popen):
    """In the web process: each report the worker writes, as a dict (anything else on the line is skipped)."""
    for line in proc.stdout:
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if isinstance(report, dict):
            yield report


class Closed(RuntimeError):
    """The worker was closed: it starts no other process."""


class Worker:
    """One engine worker process at a time, started on the first ``send`` and kept, so the model
    loads once. ``on_report(proc, report)`` is called for each report, in the process's reader
    thread; ``on_exit(proc, code)`` once that process has ended and been reaped."""

    def __init__(self, command: list[str], *, on_report: Callable[[subprocess.Popen, dict], None],
                 on_exit: Callable[[subprocess.Popen, int], None], name: str = "engine worker"):
        self.command, self.on_report, self.on_exit, self.name = command, on_report, on_exit, name
        self._proc: subprocess.Popen | None = None
        self._readers: dict[subprocess.Popen, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def proc(self) -> subprocess.Popen | None:
        """The live process (None before the first ``send``, after a kill, and once closed)."""
        return self._proc

    def send(self, line: dict, bind: Callable[[subprocess.Popen], None] | None = None) -> subprocess.Popen:
        """Write one job to the worker, starting it first if none is running; returns the process
        it went to. ``bind(proc)`` is called before the line is written, so the job knows its
        process before any report on it can arrive. Raises ``Closed`` once closed (or closing),
        OSError when the process died just now."""
        with self._lock:
            if self._closed:
                raise Closed(f"the {self.name} was stopped")
            if self._proc is None or self._proc.poll() is not None:
                log.info("starting the %s for %s", self.name, self.command[self.command.index("--model") + 1] if "--model" in self.command else self.command[-1])
                self._proc = start(self.command)
                reader = threading.Thread(target=self._read, args=(self._proc,), name=f"{self.name} reader", daemon=True)
                self._readers[self._proc] = reader
                reader.start()
            proc = self._proc
            if bind is not None:
                bind(proc)
            try:
                proc.stdin.write(json.dumps(line) + "\n")
                proc.stdin.flush()
            except ValueError:  # its input was closed just now: the worker is being stopped
                raise Closed(f"the {self.name} was stopped") from None
        return proc

    def kill(self, proc: subprocess.Popen | None = None) -> None:
        """Kill the process (the live one, or ``proc`` if it is still the live one), reap it and join its reader;
        the next ``send`` starts a fresh one."""
        with self._lock:
            if proc is not None and proc is not self._proc:
                return
            proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            self._reap(proc)

    def close(self, grace: float = 10.0) -> None:
        """Start no other process; let the live one finish its job and exit (its input closed),
        killing it after ``grace`` seconds; reap every process started and join every reader."""
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
        stop(proc, grace)
        for p in list(self._readers):
            if p.poll() is None:
                p.kill()
            self._reap(p)

    def _reap(self, proc: subprocess.Popen) -> None:
        proc.wait()
        reader = self._readers.get(proc)
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=30)
        self._readers.pop(proc, None)

    def _read(self, proc: subprocess.Popen) -> None:
        try:
            for report in reports(proc):
                try:
                    self.on_report(proc, report)
                except Exception:  # noqa: BLE001 - one bad report must not stop the reader
                    log.exception("%s: a report could not be taken in: %r", self.name, report)
        finally:
            code = proc.wait()
            with self._lock:
                if self._proc is proc:
                    self._proc = None
            try:
                self.on_exit(proc, code)
            finally:
                self._readers.pop(proc, None)  # reaped; this thread ends here


def worker_command(request) -> list[str]:
    """The engine worker for a ``Request``: its model, recipe, fine-tune steps, ``train_on``, and the
    batch it draws (the memory check before loading weighs the exhibit's samples x length)."""
    r = request
    return [sys.executable, "-m", "generator.samples.worker", "--models-dir", str(r.models_dir.resolve()), "--model", r.model,
            "--recipe", r.recipe, "--finetune-steps", str(r.params.finetune_steps), "--train-on", r.params.train_on,
            "--samples", str(r.samples), "--length", str(r.params.length)]


def load_engine(models_dir: Path, model: str, recipe: str, *, max_finetune_steps: int, window: bool = False, samples: int = 10, length: int = 100):
    """In the worker: (engine, fingerprint) for ``model``, checked first, the way generate opens it."""
    from .engine.factory import model_at, open_engine

    folder, fp = model_at(models_dir, model)
    return open_engine(folder, recipe, max_finetune_steps=max_finetune_steps, window=window, samples=samples, length=length), fp


def stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """Close the worker's input (it finishes its job and exits), then make sure it is gone, reaped."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


def report_channel() -> TextIO:
    """In the worker: the stream reports go to. Whatever else prints goes to stderr."""
    out = sys.stdout
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return out


def say(out: TextIO, **report) -> None:
    out.write(json.dumps(report) + "\n")
    out.flush()
