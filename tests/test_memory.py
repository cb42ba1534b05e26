"""A passage's memory: never a second model's worth alive at once (each weight's update gated on its
own gradient and readers, engine/adam.py; the base weights restored into the variables' own
buffers, fast.restore_in_place, or one at a time, fast.restore_chain), measured on a checkpoint of 1.2 GB whose largest weight is 100 MB."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from generator.samples.engine.checkpoint import Hparams
from tests.conftest import ROOT

# Wide and shallow, with the tiny vocabulary: 1.2 GB of fp32 weights, none over 100 MB, so
# a whole gradient set (or a whole second copy) stands out from everything else.
WIDE = Hparams(n_vocab=256 + 300 + 1, n_ctx=1024, n_embd=2560, n_head=20, n_layer=4)
PROBE = """
import json, resource, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from generator.samples.cache import Params
from generator.samples.engine.fast import FastEngine

engine = FastEngine(Path({folder!r}))  # builds the graph, restores the weights
params = Params(temperature=0.8, top_k=30, length=16, seed=1, finetune_steps=1, learning_rate=1e-4)
engine.generate("Rovers drive slowly. They carry cameras. They stop often to look at rocks and dust.", params, 2)  # restore, fine-tune, sample
print(json.dumps({{"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}}))
"""


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    from generator.samples.engine.checkpoint import build_random

    folder = tmp_path_factory.mktemp("wide") / "wide"
    build_random(folder, WIDE, seed=0, merges=300)
    return folder


def weights_gb(hp: Hparams) -> float:
    return hp.weight_bytes / 2**30


def test_a_passage_never_holds_a_second_model(wide):
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT), folder=str(wide))], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    w = weights_gb(WIDE)
    # Gated on every gradient, the step held every gradient at once; read in one go, the second
    # restore held a second copy of the weights: either is a whole weight set over this bound.
    assert got["peak"] <= 1.25 * w + 1.0, (got, w)


def _allocations(tf, sess, fetch, feed) -> list[tuple[int, int]]:
    """(when, bytes) of every allocation a traced run made, in order, from the records TensorFlow keeps."""
    meta = tf.compat.v1.RunMetadata()
    sess.run(fetch, feed, options=tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE), run_metadata=meta)
    return sorted((r.alloc_micros, r.alloc_bytes) for dev in meta.step_stats.dev_stats for node in dev.node_stats
                  for used in node.memory for r in used.allocation_records)


def _live_over_run(tf, sess, fetch, feed) -> tuple[int, int]:
    """(the most bytes a run had allocated at once, what it still had at its end)."""
    records = _allocations(tf, sess, fetch, feed)
    assert records, "no allocation records: TensorFlow no longer keeps them, and this test cannot see"
    live = peak = 0
    for _, size in records:
        live += size
        peak = max(peak, live)
    return peak, live


@pytest.mark.parametrize("kernel", [False, True], ids=["operations", "kernel"])
def test_the_restore_reads_nothing_ahead_of_the_variables(models, kernel):
    """A restore after a fine-tune puts back the checkpoint's bytes, and at no moment of it is a
    weight's read beside the variable's own copy (for 1558M, the embeddings: 307 MB).

    With TensorFlow's operations (engine version 3), each weight is read into memory that its
    variable then takes over. With the compiled kernels (version 5), each weight is read
    straight into the buffer its variable holds: the restore allocates nothing but its answer
    (whether it checked the checksums, ``test_kernels``)."""
    from generator.samples.cache import Params
    from generator.samples.engine.fast import FastEngine
    from generator.samples.engine.tf import load

    tf, _ = load()
    engine = FastEngine(models / "tiny", kernel=kernel)
    try:
        assert engine.version == (5 if kernel else 3)
        params = Params(temperature=0.8, top_k=30, length=4, seed=1, finetune_steps=1, learning_rate=1e-2)
        engine.generate("Rovers drive slowly. They carry cameras. They stop often to look at rocks and dust.", params, 2)
        feed = {engine.checkpoint_path: engine.checkpoint}
        if kernel:
            assert max((size for _, size in _allocations(tf, engine.sess, engine.restore, feed)), default=0) <= 1  # its answer, a bool
        else:
            peak, end = _live_over_run(tf, engine.sess, engine.restore, feed)
            assert end >= engine.hparams.weight_bytes  # what was read stays: in the variables
            assert peak == end, f"{peak - end} bytes were read ahead of the variables"
        reader = tf.train.load_checkpoint(engine.checkpoint)
        restored = engine.sess.run(engine.weights)
        assert all(np.array_equal(w, reader.get_tensor(t.op.name)) for w, t in zip(restored, engine.weights))
    finally:
        engine.close()


# Deep and narrow, with the tiny vocabulary: what the fine-tune keeps for its backward pass is
# the blocks' activations, not the weights (2.8 MB) or the logits.
DEEP = Hparams(n_vocab=256 + 300 + 1, n_ctx=1024, n_embd=64, n_head=4, n_layer=12)


def test_the_fine_tune_keeps_one_blocks_activations_not_every_blocks(tmp_path):
    """The backward pass goes one block at a time, each block's forward pass run again from its
    input (engine/recompute.py): the step's allocations peak at a fraction of what the library's
    whole backward pass holds, every block's activations at once (the same graph, its
    gradients taken by one ``tf.gradients``), on a 256-token passage through 12 blocks."""
    from generator.samples.engine import forward
    from generator.samples.engine.adam import Adam
    from generator.samples.engine.checkpoint import build_random
    from generator.samples.engine.tf import load

    tf, _ = load()
    from gpt_2_simple.src import model

    v1 = tf.compat.v1
    build_random(tmp_path / "deep", DEEP, seed=0, merges=300)
    hp = model.default_hparams()
    hp.override_from_dict(DEEP.as_dict())
    passage = [list(np.random.default_rng(0).integers(0, DEEP.n_vocab, 256))]
    peaks = {}
    for name, blocks in (("block by block", forward.Blocks(tf, model, hp)), ("whole", None)):
        graph = tf.Graph()
        with graph.as_default(), v1.variable_scope(v1.get_variable_scope(), use_resource=False):
            tokens = v1.placeholder(tf.int32, [1, None])
            loss, output = forward.training_loss(tf, model, hp, tokens)
            ws = [v for v in v1.trainable_variables() if v.name.startswith("model/")]
            step = Adam(tf, loss, ws, output=output, blocks=blocks)
            saver = v1.train.Saver(ws)
        with v1.Session(graph=graph) as sess:
            saver.restore(sess, str(tmp_path / "deep" / "model.ckpt"))
            peaks[name], _ = _live_over_run(tf, sess, step.step, {tokens: passage, step.lr: 1e-4, step.t: 1.0})
    assert peaks["block by block"] < 0.35 * peaks["whole"], peaks
