"""The line protocol between a web process and its engine worker (the studio's, the station's).

The web process starts the worker with ``start``; the worker takes one JSON
object a line on stdin and answers on stdout through ``say``, after
``report_channel`` has moved everything else that writes to stdout (TensorFlow)
onto stderr.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TextIO

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


def load_engine(models_dir: Path, model: str, recipe: str, *, max_finetune_steps: int, window: bool = False):
    """In the worker: (engine, fingerprint) for ``model``, checked first, the way generate opens it."""
    from .engine.checkpoint import check_model, fingerprint
    from .engine.factory import open_engine

    folder = check_model(models_dir, model)
    return open_engine(folder, recipe, max_finetune_steps=max_finetune_steps, window=window), fingerprint(folder)


def stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """Close the worker's input (it finishes its job and exits), then make sure it is gone."""
    if proc is not None and proc.poll() is None:
        proc.stdin.close()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()


def report_channel() -> TextIO:
    """In the worker: the stream reports go to. Whatever else prints goes to stderr."""
    out = sys.stdout
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return out


def say(out: TextIO, **report) -> None:
    out.write(json.dumps(report) + "\n")
    out.flush()
