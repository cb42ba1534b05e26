"""`generate --ray` (issue 28): a long essay's passages over two Ray workers give the very bytes one
process gives with the same thread count, and a worker killed mid-run costs nothing: Ray starts it
again, the passage it held runs again, and the driver records every passage once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.stores import store_of


@pytest.fixture(autouse=True)
def _ray_installed():
    """Not a skip: the README's test command installs every line of requirements.txt, Ray's too."""
    import importlib.util

    assert importlib.util.find_spec("ray"), "Ray is the optional `ray` line of requirements.txt: pip install -r requirements.txt"


PASSAGES = 200


@pytest.fixture
def novel(exhibit: Path) -> Path:
    """The exhibit with a long essay: PASSAGES one-paragraph passages."""
    body = "\n\n".join(f"Paragraph {i} follows the rover across the plain. It is short. It ends at mile {i}." for i in range(PASSAGES))
    (exhibit / "essays" / "novel.md").write_text("Title: Novel\n\n" + body + "\n")
    return exhibit


def _generate(content: Path, models: Path, *extra: str) -> list[str]:
    return [sys.executable, "build.py", "generate", "--content", str(content), "--models-dir", str(models), "--model", "tiny",
            "--essay", "novel", "--samples", "2", "--length", "8", *extra]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _one_process(novel: Path, models: Path, tmp_path: Path) -> dict[str, bytes]:
    alone = tmp_path / "alone"
    (alone / "essays").mkdir(parents=True)
    (alone / "essays" / "novel.md").write_bytes((novel / "essays" / "novel.md").read_bytes())
    (alone / "site.toml").write_bytes((novel / "site.toml").read_bytes())
    done = subprocess.run(_generate(alone, models, "--threads", "1", "-q"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return _files(store_of(alone, "novel"))


def _descendants(pid: int) -> dict[int, str]:
    """Every process under ``pid``, with its command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            try:
                out[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            todo.append(child)
    return out


def test_two_workers_give_the_bytes_of_one_process_with_their_thread_count(novel, models, tmp_path):
    done = subprocess.run(_generate(novel, models, "--ray", "--workers", "2", "--threads", "1"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"generated {PASSAGES} passage(s)" in done.stderr  # the driver recorded each passage once
    assert "2 Ray worker(s) of 1 thread(s) each" in done.stderr
    assert _files(store_of(novel, "novel")) == _one_process(novel, models, tmp_path)
    again = subprocess.run(_generate(novel, models, "--ray", "--workers", "2", "--threads", "1"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "nothing to do" in again.stderr  # decided before any cluster starts


def test_a_worker_killed_mid_run_costs_nothing(novel, models, tmp_path):
    store = store_of(novel, "novel")
    proc = subprocess.Popen(_generate(novel, models, "--ray", "--workers", "2", "--threads", "1"), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and len(list(store.glob("*.json"))) < 20:
            time.sleep(0.05)
        workers = [pid for pid, cmd in _descendants(proc.pid).items() if "EngineWorker" in cmd]
        assert proc.poll() is None and len(list(store.glob("*.json"))) < PASSAGES, "the run ended before a worker could be killed"
        assert workers, "no Ray worker found under the driver"
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert "was started again" in err  # the kill landed mid-run, and Ray brought the worker back
    assert f"generated {PASSAGES} passage(s)" in err  # every passage recorded once
    assert _files(store) == _one_process(novel, models, tmp_path)  # and nothing partial, nothing twice


def test_without_ray_the_flag_says_how_to_install_it(novel, models):
    code = ("import sys\nsys.modules['ray'] = None  # as where the optional line is not installed\n"
            f"sys.path.insert(0, {str(ROOT)!r})\nimport build\n"
            f"sys.exit(build.main({_generate(novel, models, '--ray')[2:]!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 1 and "--ray needs Ray, an optional requirement: pip install" in out.stderr
    assert not store_of(novel, "novel").exists()


def test_a_worker_lost_for_good_hands_its_passages_to_the_others(novel, models, tmp_path, monkeypatch, caplog):
    """Started again no more (``RESTARTS`` 0 here), a lost worker is let go and the others make its
    passages: the same store as one process's."""
    import threading

    from generator.config import load_config
    from generator.content import read_essays
    from generator.content.layout import ContentLayout
    from generator.samples import cluster
    from generator.samples.request import request_from

    monkeypatch.setattr(cluster, "RESTARTS", 0)
    caplog.set_level("WARNING", logger="generator.samples.cluster")
    layout = ContentLayout(novel)
    config = load_config(layout.site_toml)
    essays = read_essays(layout, passage_size=config.passage_size, splitter=config.sentence_splitter, only=["novel"])
    request = request_from(config, models, model="tiny", samples=2, length=8)
    store = store_of(novel, "novel")
    killed: list[int] = []

    def kill_one() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list(store.glob("*.json"))) < 20:
            time.sleep(0.05)
        workers = [pid for pid, cmd in _descendants(os.getpid()).items() if "EngineWorker" in cmd]
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])

    killer = threading.Thread(target=kill_one, daemon=True)
    killer.start()
    summary = cluster.generate_on_ray(essays, layout.samples, request, workers=2, threads=1, progress=False)
    killer.join(timeout=60)
    assert killed, "no worker was found to kill"
    assert any("is lost for good" in r.getMessage() for r in caplog.records)
    assert summary.generated == PASSAGES
    assert _files(store) == _one_process(novel, models, tmp_path)
