"""The sampler's compiled attention (``engine/kernels.py``): where it cannot be had, the engine
says why and runs the attention as TensorFlow operations, as engine version 3; a library in a
folder another user could write is never loaded."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from fractions import Fraction
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
    monkeypatch.setattr(kernels, "isa_level", lambda: "s390x")  # not one this project knows
    assert kernels.expected_version() == 3


def test_a_restore_reads_a_changed_checkpoint_again_and_checks_it(models, tmp_path):
    """The compiled restore checks the checkpoint's checksums on its first read, then copies the
    same bytes from the same places while the files stay as they were (its output says which it
    did). A checkpoint changed under a running engine is read and checked again: a corrupted
    byte stops the restore (it would be copied silently if the restore trusted its notes), the
    checkpoint put right restores again, bit for bit, and so do a checkpoint renamed into its
    place and one written in place with its modification time set back."""
    import numpy as np
    import pytest

    from generator.samples.cache import Params
    from generator.samples.engine.checkpoint import Hparams, build_random
    from generator.samples.engine.fast import FastEngine
    from generator.samples.engine.tf import load

    tf, _ = load()
    folder = tmp_path / "tiny"
    shutil.copytree(models / "tiny", folder)
    data = next(folder.glob("model.ckpt.data-*"))
    engine = FastEngine(folder)
    (op,) = [o for o in engine.graph.get_operations() if o.type == "VsrRestore"]

    def restore() -> bool:
        """One restore; True where it checked the checksums, False where it copied noted bytes."""
        return bool(engine.sess.run(op.outputs[0], {engine.checkpoint_path: engine.checkpoint}))

    def restored_from(checkpoint) -> bool:
        reader = tf.train.load_checkpoint(str(checkpoint))
        return all(np.array_equal(w, reader.get_tensor(t.op.name)) for w, t in zip(engine.sess.run(engine.weights), engine.weights))

    try:
        assert engine.version == 5
        params = Params(temperature=0.8, top_k=30, length=4, seed=1, finetune_steps=1, learning_rate=1e-2)
        prompt = "Rovers drive slowly. They carry cameras. They stop often to look at rocks and dust."
        first = engine.generate(prompt, params, 2).continuations
        assert engine.generate(prompt, params, 2).continuations == first  # restored from its notes: the same
        assert restore() is False and restored_from(engine.checkpoint)  # checked when the engine opened
        original = data.read_bytes()
        with data.open("r+b") as fh:
            fh.seek(len(original) // 2)
            fh.write(bytes([original[len(original) // 2] ^ 0x40]))
        with pytest.raises(tf.errors.DataLossError, match="(?i)checksum|crc"):
            engine.generate(prompt, params, 2)
        data.write_bytes(original)
        assert engine.generate(prompt, params, 2).continuations == first
        assert restore() is False and restored_from(engine.checkpoint)

        # another checkpoint of the same shape, renamed into place: checked, and its weights
        build_random(tmp_path / "other", Hparams.read(folder), seed=1)
        for part in (tmp_path / "other").glob("model.ckpt.*"):
            os.replace(part, folder / part.name)
        assert restore() is True and restored_from(folder / "model.ckpt")
        assert restore() is False and restored_from(folder / "model.ckpt")
        # the same bytes written in place, the modification time set back: the change time still moves
        before = data.stat()
        data.write_bytes(data.read_bytes())
        os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert restore() is True and restore() is False
    finally:
        engine.close()


def _round32(value):
    """A rational rounded to the nearest float32, ties to even (normal numbers: the tests' are)."""
    import numpy as np

    if value == 0:
        return np.float32(0.0)
    sign, magnitude = (-1 if value < 0 else 1), abs(value)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    quantum = Fraction(2) ** (exponent - 23)
    scaled = magnitude / quantum
    whole = scaled.numerator // scaled.denominator
    rest = scaled - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1):
        whole += 1
    return np.float32(sign * float(whole * quantum))


def _fma32(a, b, c):
    """float32 fused multiply-add: a * b + c exactly, rounded once."""
    return _round32(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


def _dense_reference(x, w, bias, r, j):
    """y[r, j] as the kernel promises: one chain of fused multiply-adds over k in order, then the bias."""
    import numpy as np

    acc = np.float32(0.0)
    for k in range(x.shape[1]):
        acc = _fma32(x[r, k], w[k, j], acc)
    return np.float32(acc + bias[j])


def _logit_reference(h, e, r, v):
    """logits[r, v] as the kernel promises: 16 lanes (lane l the features l, l + 16, ... by fused
    multiply-adds, the features after the last 16 into lanes 0, 1, ...), joined 8 + 8, 4 + 4, ..."""
    import numpy as np

    n = h.shape[1]
    lane = [np.float32(0.0)] * 16
    for f in range(n // 16 * 16):
        lane[f % 16] = _fma32(h[r, f], e[v, f], lane[f % 16])
    for l, f in enumerate(range(n // 16 * 16, n)):
        lane[l] = _fma32(h[r, f], e[v, f], lane[l])
    width = 8
    while width:
        lane = [np.float32(lane[l] + lane[l + width]) for l in range(width)]
        width //= 2
    return lane[0]


PRODUCTS = r"""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from generator.samples.engine import kernels
from generator.samples.engine.tf import load
if sys.argv[5] != "native":
    kernels.isa_level = lambda: sys.argv[5]  # the library built for that level
tf, _ = load()
kernel = kernels.load(tf)
given = np.load(sys.argv[2])
x, w, b, h, e = (given[name] for name in "xwbhe")
with tf.Graph().as_default() as graph:
    # 17 rows go in tiles of 6, 6 and 5; the first 1 to 6 in one tile of that many
    fetch = [getattr(kernel, kernels.DENSE)(x, w, b), getattr(kernel, kernels.LOGITS)(h, e), getattr(kernel, kernels.LOGITS)(h, e[:262])]
    fetch += [getattr(kernel, kernels.DENSE)(x[:rows], w, b) for rows in range(1, 7)]
    fetch += [getattr(kernel, kernels.LOGITS)(h[:rows], e) for rows in range(1, 7)]
config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=int(sys.argv[4]), inter_op_parallelism_threads=1)
with tf.compat.v1.Session(graph=graph, config=config) as sess:
    np.savez(sys.argv[3], *sess.run(fetch))
"""


def test_the_matrix_products_on_shapes_with_every_remainder(tmp_path):
    """The step's compiled products on shapes the tiny model never has: a depth that leaves rows
    after the last pass of 32, columns past the last unit of 64 (and more units than the tiles
    ask ahead), a width that leaves features past the last 16 lanes, vocabularies that leave
    three rows and two after the groups of four; batches of every size of tile, and enough work
    that two threads split it. Outputs in every kind of place are the exact chains the kernels
    promise (each fused multiply-add rounded once, in order), all within float rounding of
    float64's answer, the same bits on one thread and on two, and the same bits for a row
    whatever batch it came in (so whatever tile), and from the library built for x86-64 v3
    (AVX2) as from this machine's. Each run is a process of its own: the kernels' threads are a
    pool of the process, sized by its first session."""
    import numpy as np

    rng = np.random.default_rng(7)
    x, w, b = (rng.standard_normal(shape).astype(np.float32) for shape in ((17, 69), (69, 211), (211,)))
    h, e = rng.standard_normal((11, 69)).astype(np.float32), rng.standard_normal((263, 69)).astype(np.float32)
    np.savez(tmp_path / "given.npz", x=x, w=w, b=b, h=h, e=e)
    answers = []
    (tmp_path / "v3").mkdir(mode=0o700)
    # one thread and two, and two with the library built for x86-64 v3 (AVX2, in a cache of
    # its own), where this machine can run it
    runs = [(1, "native", {}), (2, "native", {})]
    if platform.machine() in ("x86_64", "AMD64") and "avx2" in Path("/proc/cpuinfo").read_text():
        runs.append((2, "x86-64-v3", {"VSR_GRAPH_CACHE": str(tmp_path / "v3")}))
    for threads, level, env in runs:
        out = tmp_path / f"{threads}-{level}.npz"
        run = subprocess.run([sys.executable, "-c", PRODUCTS, str(ROOT), str(tmp_path / "given.npz"), str(out), str(threads), level],
                             capture_output=True, text=True, timeout=600, env={**os.environ, **env})
        assert run.returncode == 0, run.stderr[-3000:]
        with np.load(out) as saved:
            answers.append([saved[f"arr_{i}"] for i in range(len(saved.files))])
    for other in answers[1:]:
        for one, two in zip(answers[0], other):
            assert one.tobytes() == two.tobytes()
    dense, logits, two_left = answers[0][:3]
    assert two_left.tobytes() == logits[:, :262].tobytes()
    for rows, (few_dense, few_logits) in enumerate(zip(answers[0][3:9], answers[0][9:]), start=1):
        assert dense[:rows].tobytes() == few_dense.tobytes()
        assert logits[:rows].tobytes() == few_logits.tobytes()
    # first and last rows of each tile; the first column of each unit, its last, and the tail's
    for r in (0, 5, 6, 12, 16):
        for j in (0, 63, 64, 191, 192, 210):
            assert dense[r, j].tobytes() == _dense_reference(x, w, b, r, j).tobytes(), (r, j)
    for r in (0, 5, 6, 10):
        for v in (0, 3, 4, 131, 259, 260, 262):
            assert logits[r, v].tobytes() == _logit_reference(h, e, r, v).tobytes(), (r, v)
    expected_dense = x.astype(np.float64) @ w.astype(np.float64) + b
    expected_logits = h.astype(np.float64) @ e.astype(np.float64).T
    np.testing.assert_allclose(dense, expected_dense, rtol=0, atol=1e-5 * np.abs(expected_dense).max())
    np.testing.assert_allclose(logits, expected_logits, rtol=0, atol=1e-5 * np.abs(expected_logits).max())
