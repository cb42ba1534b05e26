"""The sampler's compiled attention (``engine/kernels.py``): where it cannot be had, the engine
says why and runs the attention as TensorFlow operations, as engine version 3; a library in a
folder another user could write is never loaded."""

from __future__ import annotations

import os
import shutil
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

os.chmod(cache, 0o777)
print("a cache folder others can write:", kernels.load(tf), flush=True)
os.chmod(cache, 0o700)
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
    assert "a cache folder others can write: None" in run.stdout
    assert "a folder others can write: None" in run.stdout
    assert f"{tmp_path / 'cache'} could be written by another user" in run.stderr
    assert f"{tmp_path / 'cache' / 'kernels'} could be written by another user" in run.stderr
    assert "a private folder: True" in run.stdout
    assert [p.suffix for p in (tmp_path / "cache" / "kernels").iterdir()] == [".so"]  # nothing half-written left


def test_check_expects_the_version_this_machine_runs(monkeypatch, tmp_path):
    """``check`` (which never imports TensorFlow) notes runs of another engine version than
    this machine's: without a C++ compiler, or on an x86 CPU without fused multiply-add, that
    is version 3."""
    from generator.samples.engine import kernels

    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    assert kernels.expected_version() == 3
    monkeypatch.delenv("CXX")
    from generator.samples.engine.common import VERSIONS

    assert kernels.expected_version() == VERSIONS["fast"] == 5  # the tests' machine has g++
    monkeypatch.setattr(kernels, "isa_level", lambda: "x86-64-v2")  # no fused multiply-add: the products would crawl
    assert kernels.expected_version() == 3
    monkeypatch.setattr(kernels, "isa_level", lambda: "aarch64 asimd")
    assert kernels.expected_version() == 5


def test_a_restore_reads_a_changed_checkpoint_again_and_checks_it(models, tmp_path):
    """The compiled restore checks the checkpoint's checksums on its first read, then copies the
    same bytes from the same places while the files stay as they were. A checkpoint changed
    under a running engine is read and checked again: a corrupted byte stops the restore (it
    would be copied silently if the restore trusted its notes), and the checkpoint put right
    restores again, bit for bit."""
    import numpy as np
    import pytest

    from generator.samples.cache import Params
    from generator.samples.engine.fast import FastEngine
    from generator.samples.engine.tf import load

    tf, _ = load()
    folder = tmp_path / "tiny"
    shutil.copytree(models / "tiny", folder)
    data = next(folder.glob("model.ckpt.data-*"))
    engine = FastEngine(folder)
    try:
        assert engine.version == 5
        params = Params(temperature=0.8, top_k=30, length=4, seed=1, finetune_steps=1, learning_rate=1e-2)
        prompt = "Rovers drive slowly. They carry cameras. They stop often to look at rocks and dust."
        first = engine.generate(prompt, params, 2).continuations
        assert engine.generate(prompt, params, 2).continuations == first  # restored from its notes: the same
        original = data.read_bytes()
        with data.open("r+b") as fh:
            fh.seek(len(original) // 2)
            fh.write(bytes([original[len(original) // 2] ^ 0x40]))
        with pytest.raises(tf.errors.DataLossError, match="(?i)checksum|crc"):
            engine.generate(prompt, params, 2)
        data.write_bytes(original)
        assert engine.generate(prompt, params, 2).continuations == first
        reader = tf.train.load_checkpoint(engine.checkpoint)
        engine.reset()
        assert all(np.array_equal(w, reader.get_tensor(t.op.name)) for w, t in zip(engine.sess.run(engine.weights), engine.weights))
    finally:
        engine.close()
