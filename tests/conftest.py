"""Shared fixtures: a copy of the hand-written fixture exhibit per test."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "exhibit"
sys.path.insert(0, str(ROOT))
# The engines' kept graphs (generator/samples/engine/graph_cache.py) go to a folder of this run's
# own, never the user's ~/.cache; engine processes the tests start inherit it.
GRAPH_CACHE = Path(tempfile.mkdtemp(prefix="vsr-test-cache-"))
os.environ["VSR_GRAPH_CACHE"] = str(GRAPH_CACHE)
# The engines here are tiny: the memory check (engine/footprint.py) would only refuse them on a
# machine short of free memory for a moment; tests/test_footprint.py turns it back on for itself.
os.environ["VSR_MEMORY_CHECK"] = "off"


def pytest_unconfigure(config):
    shutil.rmtree(GRAPH_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _root_logging():
    """build.main() points the root logger at this test's stderr; put it back after, so a
    thread that logs later never writes to a stream pytest has closed."""
    import logging

    handlers, level = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


@pytest.fixture
def exhibit(tmp_path: Path) -> Path:
    """A writable copy of tests/fixtures/exhibit (content folder)."""
    dest = tmp_path / "content"
    shutil.copytree(FIXTURE, dest)
    return dest


@pytest.fixture
def site_paths(exhibit: Path, tmp_path: Path):
    from generator.site.builder import Paths

    return Paths(content=exhibit, output=tmp_path / "out", templates=ROOT / "site_templates", project=ROOT)


def run_cli(*args: str) -> int:
    import build

    return build.main(list(args))


def serve_studio(exhibit: Path, tmp_path: Path, models_dir: Path | None = None, model: str | None = None, host: str = "127.0.0.1"):
    """The studio on ``exhibit``, on a free port of 127.0.0.1, serving in a thread (its preview and journal in ``tmp_path``)."""
    import threading

    from generator.studio.serve import StudioOptions, open_studio

    options = StudioOptions(content=exhibit, models_dir=models_dir or tmp_path / "no-models", model=model, ratio=2.0,
                            preview=tmp_path / "preview", templates=ROOT / "site_templates", project=ROOT, host=host, port=0)
    running = open_studio(options)
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    return running


class LockWaits(logging.Handler):
    """While in a ``with``: counts the lock module's "waiting for its lock" lines in this process
    (for ``path`` only, when given) and sets ``event`` at the first: a writer seen waiting for a
    lock that another holds."""

    def __init__(self, path: Path | None = None):
        super().__init__(logging.INFO)
        self.path, self.event, self.count = path, threading.Event(), 0
        self._logger = logging.getLogger("generator.locking")

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "waiting for its lock" in message and (self.path is None or str(self.path) in message):
            self.count += 1
            self.event.set()

    def __enter__(self) -> LockWaits:
        self._level = self._logger.level
        self._logger.addHandler(self)
        self._logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)


def interruptible() -> dict:
    """Popen's arguments for a child that a test stops with SIGINT (Ctrl-C): a suite started from a
    background job ignores SIGINT, a child inherits that, and Python then never turns it into
    KeyboardInterrupt. The child starts with the default disposition instead."""
    import signal

    return {"preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)}


def heavy_imports(code: str, cwd: Path) -> list[str]:
    """Run ``code`` (with the project importable) in a fresh Python; the engine's modules it imported."""
    import ast
    import subprocess

    probe = ("import sys\nsys.path.insert(0, " + repr(str(ROOT)) + ")\n" + code
             + "\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'gpt_2_simple', 'torch')))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


CHROMIUM = "/usr/bin/chromium"  # Debian's; never `playwright install`
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium package is needed (.ci/run installs it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Path:
    """models/tiny: a 2-layer GPT-2 (n_ctx 1024) trained for a few seconds on the fixture essays."""
    from generator.content.essays import parse_essay
    from tests.engine_models import train_tiny

    texts = [" ".join(p.text for p in parse_essay(f).passages) for f in sorted((FIXTURE / "essays").glob("*.md"))]
    root = tmp_path_factory.mktemp("models")
    train_tiny(root / "tiny", texts * 3, steps=200)
    return root
