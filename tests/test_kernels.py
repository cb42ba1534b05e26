"""The sampler's compiled attention (``engine/kernels.py``): where it cannot be had, the engine
says why and runs the attention as TensorFlow operations, as engine version 3; a library in a
folder another user could write is never loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import logging, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
logging.basicConfig(level=logging.INFO, format="%(message)s")
from generator.samples.engine import kernels
from generator.samples.engine.fast import FastEngine
from generator.samples.engine.tf import load
tf, _ = load()
cache = Path(os.environ["VSR_GRAPH_CACHE"])

os.environ["CXX"] = str(cache / "no-such-compiler")
engine = FastEngine(Path(sys.argv[2]))
print("without a compiler:", engine.version, sum(op.type == "VsrDecodeAttention" for op in engine.graph.get_operations()), flush=True)
engine.close()
del os.environ["CXX"]

(cache / "kernels").mkdir(mode=0o700)
os.chmod(cache / "kernels", 0o777)
print("a folder others can write:", kernels.load(tf), flush=True)
os.chmod(cache / "kernels", 0o700)
print("a private folder:", kernels.load(tf) is not None, flush=True)
"""


def test_without_its_kernel_the_engine_is_version_3_and_a_shared_folder_is_refused(models, tmp_path):
    env = {**os.environ, "VSR_GRAPH_CACHE": str(tmp_path / "cache")}
    (tmp_path / "cache").mkdir(mode=0o700)
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), str(models / "tiny")], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "without a compiler: 3 0" in run.stdout
    assert "no C++ compiler" in run.stderr and "engine version 3" in run.stderr
    assert "a folder others can write: None" in run.stdout
    assert "could be written by another user" in run.stderr
    assert "a private folder: True" in run.stdout
    assert [p.suffix for p in (tmp_path / "cache" / "kernels").iterdir()] == [".so"]  # nothing half-written left
