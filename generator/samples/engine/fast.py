"""Recipe `fast`: one graph, one session, the whole run.

Per passage: restore the base weights from an in-memory copy, take one Adam
step on the passage's own tokens, draw every sample in one batch. The graph
is built once and finalized, so it cannot grow from passage to passage, and
nothing is written to disk.

One Adam step from a fresh optimizer needs no slot variables: with m = v = 0,
TF's AdamOptimizer moves each weight by lr·√(1-β2)/(1-β1) · m/(√v + ε) with
m = (1-β1)g and v = (1-β2)g², computed here directly from the gradient. Slots
are created only when a run asks for more than one step.
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

import numpy as np

from ..cache import Params
from .checkpoint import Hparams
from .common import Generation, PromptTooLong
from .tf import load

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8  # tf.compat.v1.train.AdamOptimizer's defaults


def session_config(tf):
    config = tf.compat.v1.ConfigProto()
    threads = os.cpu_count() or 1
    config.intra_op_parallelism_threads = threads
    config.inter_op_parallelism_threads = 1
    return config


def stream_seed(params: Params, prompt: str) -> list[int]:
    """The stateless sampler's seed: the run's seed and the prompt, so a passage's
    samples do not depend on which passages ran before it."""
    return [params.seed, zlib.crc32(prompt.encode("utf-8")) & 0x7FFFFFFF]


class FastEngine:
    recipe = "fast"

    def __init__(self, folder: Path, *, max_finetune_steps: int = 1):
        tf, _ = load()
        from gpt_2_simple.src import encoder, model

        self.tf = tf
        self.hparams = Hparams.read(folder)
        self.encoder = encoder.get_encoder(str(folder))
        self.end_of_text = self.encoder.encoder.get("<|endoftext|>")
        self.max_finetune_steps = max_finetune_steps
        hp = model.default_hparams()
        hp.override_from_dict(self.hparams.as_dict())
        self.graph = tf.Graph()
        # Reference variables, not resource ones: a resource variable that has
        # been gathered from (the embeddings) switches to copy-on-read, and
        # every step's logits would copy all of wte (154 MB for 124M) first.
        with self.graph.as_default(), tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), use_resource=False):
            self._build_finetune(tf, model, hp, max_finetune_steps)
            self._build_sampler(tf, model, hp)
            saver = tf.compat.v1.train.Saver(var_list=self.weights)
            # The weights come from the checkpoint: initialise only our own
            # variables (base copy, sampler copy, Adam slots), never 500 MB of
            # random numbers that the restore would overwrite.
            init = tf.compat.v1.variables_initializer([v for v in tf.compat.v1.global_variables() if v not in self.weights])
        self.graph.finalize()
        self.sess = tf.compat.v1.Session(graph=self.graph, config=session_config(tf))
        self.sess.run(init)
        saver.restore(self.sess, tf.train.latest_checkpoint(str(folder)))
        self.sess.run(self.save_base)
        self.sess.run(self.refresh_sampler)

    # -- graph -------------------------------------------------------------
    def _build_finetune(self, tf, model, hp, max_steps: int) -> None:
        v1 = tf.compat.v1
        self.tokens = v1.placeholder(tf.int32, [1, None], name="passage")
        self.lr = v1.placeholder(tf.float32, [], name="learning_rate")
        self.t = v1.placeholder(tf.float32, [], name="adam_step")
        out = model.model(hparams=hp, X=self.tokens, reuse=v1.AUTO_REUSE)
        self.loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.tokens[:, 1:], logits=out["logits"][:, :-1])
        )
        self.weights = [v for v in v1.trainable_variables() if v.name.startswith("model/")]
        grads = [tf.convert_to_tensor(g) for g in tf.gradients(ys=self.loss, xs=self.weights)]
        with v1.variable_scope("base"):
            base = [
                v1.get_variable(w.op.name, w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False)
                for w in self.weights
            ]
        self.save_base = tf.group(*[b.assign(w) for b, w in zip(base, self.weights)])
        restores = [w.assign(b) for w, b in zip(self.weights, base)]
        lr_t = self.lr * tf.sqrt(1 - BETA2**self.t) / (1 - BETA1**self.t)
        if max_steps == 1:
            # t = 1: lr_t·(1-β1)g / (√(1-β2)·|g| + ε) = lr·g / (|g| + ε/√(1-β2)); three
            # elementwise ops per weight keep the temporaries (and peak memory) small.
            eps = EPSILON / (1 - BETA2) ** 0.5
            updates = [w.assign_sub(self.lr * (g / (tf.abs(g) + eps))) for w, g in zip(self.weights, grads)]
            self.restore_base = tf.group(*restores)
        else:
            with v1.variable_scope("adam"):
                m = [v1.get_variable(w.op.name + "/m", w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False) for w in self.weights]
                v = [v1.get_variable(w.op.name + "/v", w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False) for w in self.weights]
            updates = []
            for w, g, mi, vi in zip(self.weights, grads, m, v):
                m_t = mi.assign(BETA1 * mi + (1 - BETA1) * g)
                v_t = vi.assign(BETA2 * vi + (1 - BETA2) * tf.square(g))
                updates.append(w.assign_sub(lr_t * m_t / (tf.sqrt(v_t) + EPSILON)))
            zero = [s.assign(tf.zeros_like(s)) for s in m + v]
            self.restore_base = tf.group(*restores, *zero)
        self.train_step = tf.group(*updates)

    def _build_sampler(self, tf, model, hp) -> None:
        """gpt-2-simple's sample_sequence, built from its model's own blocks, with
        the sampling knobs as placeholders (one graph serves every passage and
        every escalation step) and a stateless, seeded draw (same inputs and
        seed, same samples)."""
        v1 = tf.compat.v1
        self.context = v1.placeholder(tf.int32, [1, None], name="context")
        self.batch = v1.placeholder(tf.int32, [], name="samples")
        self.temperature = v1.placeholder(tf.float32, [], name="temperature")
        self.top_k = v1.placeholder(tf.int32, [], name="top_k")
        self.length = v1.placeholder(tf.int32, [], name="length")
        self.seed = v1.placeholder(tf.int64, [2], name="seed")

        with v1.variable_scope("model", reuse=True):
            wte = v1.get_variable("wte")
        # The output layer reads the token embeddings transposed, once per
        # generated token: keep a transposed copy (refreshed after every
        # fine-tune step) so the matmul streams contiguous rows.
        wte_t = v1.get_variable("sampler/wte_t", [hp.n_embd, hp.n_vocab], wte.dtype, initializer=v1.zeros_initializer(), trainable=False)
        self.refresh_sampler = wte_t.assign(tf.transpose(wte))

        def step(tokens, pasts=None):
            """gpt-2-simple's model(), up to the final norm, then logits for the last
            position only. Keys and values stay one tensor per layer, so the cache
            is not unstacked and restacked around every generated token."""
            with v1.variable_scope("model", reuse=True):
                wpe = v1.get_variable("wpe")
                past_length = 0 if pasts is None else tf.shape(pasts[0])[-2]
                h = tf.gather(wte, tokens) + tf.gather(wpe, model.positions_for(tokens, past_length))
                presents = []
                for layer in range(hp.n_layer):
                    layer_past = None if pasts is None else pasts[layer]
                    h, present = model.block(h, "h%d" % layer, past=layer_past, hparams=hp)
                    presents.append(present if pasts is None else tf.concat([layer_past, present], axis=-2))
                h = model.norm(h, "ln_f")
            return tf.matmul(h[:, -1, :], wte_t), presents

        def top_k(logits):
            values, _ = tf.nn.top_k(logits, k=self.top_k)
            return tf.where(logits < values[:, -1, tf.newaxis], tf.ones_like(logits) * -1e10, logits)

        # The prompt is the same for every sample: run it through the model
        # once and copy its keys and values, instead of once per sample.
        _, prompt_pasts = step(self.context[:, :-1])
        pasts0 = [tf.tile(p, [self.batch, 1, 1, 1, 1]) for p in prompt_pasts]
        last = tf.tile(self.context[:, -1], [self.batch])
        layer_shape = tf.TensorShape([None, 2, hp.n_head, None, hp.n_embd // hp.n_head])

        def body(i, pasts, prev, output):
            logits, pasts = step(prev[:, tf.newaxis], pasts=pasts)
            logits = logits / self.temperature
            logits = tf.cond(self.top_k > 0, lambda: top_k(logits), lambda: logits)
            seed = self.seed + tf.stack([tf.constant(0, tf.int64), tf.cast(i, tf.int64)])
            draw = tf.random.stateless_categorical(logits, 1, seed=seed, dtype=tf.int32)[:, 0]
            return i + 1, pasts, draw, tf.concat([output, draw[:, tf.newaxis]], axis=1)

        _, _, _, tokens = tf.while_loop(
            cond=lambda *args: True,
            body=body,
            maximum_iterations=self.length,
            loop_vars=[tf.constant(0), pasts0, last, tf.zeros([self.batch, 0], tf.int32)],
            shape_invariants=[tf.TensorShape([]), [layer_shape] * hp.n_layer, tf.TensorShape([None]), tf.TensorShape([None, None])],
        )
        self.generated = tokens

    # -- use ---------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.encoder.encode(text)

    def check_fits(self, prompt_tokens: int, length: int) -> None:
        if prompt_tokens < 2 or prompt_tokens + length > self.hparams.n_ctx:
            raise PromptTooLong(prompt_tokens, length, self.hparams.n_ctx)

    def passage_loss(self, prompt: str) -> float:
        return float(self.sess.run(self.loss, {self.tokens: [self.encode(prompt)]}))

    def reset(self) -> None:
        """Back to the base weights."""
        self.sess.run(self.restore_base)
        self.sess.run(self.refresh_sampler)

    def finetune(self, prompt: str, params: Params, tokens: list[int] | None = None) -> None:
        """Fresh base weights, then ``params.finetune_steps`` Adam steps on the passage."""
        if params.finetune_steps > self.max_finetune_steps:
            raise ValueError(f"engine built for at most {self.max_finetune_steps} fine-tune steps")
        self.sess.run(self.restore_base)
        batch = [tokens if tokens is not None else self.encode(prompt)]
        for t in range(1, params.finetune_steps + 1):
            self.sess.run(self.train_step, {self.tokens: batch, self.lr: params.learning_rate, self.t: float(t)})
        self.sess.run(self.refresh_sampler)

    def sample(self, prompt: str, params: Params, nsamples: int, tokens: list[int] | None = None) -> list[str]:
        """Continuations of ``prompt`` with the weights as they are now, cut at <|endoftext|>."""
        return [self.decode(row) for row in self.sample_tokens(prompt, params, nsamples, tokens)]

    def sample_tokens(self, prompt: str, params: Params, nsamples: int, tokens: list[int] | None = None) -> np.ndarray:
        """The raw generated tokens, [nsamples, length]."""
        if tokens is None:
            tokens = self.encode(prompt)
            self.check_fits(len(tokens), params.length)
        return self.sess.run(
            self.generated,
            {
                self.context: [tokens],
                self.batch: nsamples,
                self.temperature: params.temperature,
                self.top_k: params.top_k,
                self.length: params.length,
                self.seed: stream_seed(params, prompt),
            },
        )

    def decode(self, row) -> str:
        row = list(np.asarray(row))
        if self.end_of_text in row:
            row = row[: row.index(self.end_of_text)]
        return self.encoder.decode(row)

    def generate(self, prompt: str, params: Params, nsamples: int) -> Generation:
        tokens = self.encode(prompt)
        self.check_fits(len(tokens), params.length)
        start = time.perf_counter()
        if params.finetune_steps:
            self.finetune(prompt, params, tokens)
        else:
            self.reset()
        tuned = time.perf_counter()
        continuations = self.sample(prompt, params, nsamples, tokens)
        return Generation(continuations, tuned - start, time.perf_counter() - tuned)

    def close(self) -> None:
        self.sess.close()
