"""gpt-2-simple's sample_sequence as one reusable graph, seeded and stateless.

The sampling knobs are placeholders, so one graph serves every passage and
every escalation rung. The prompt goes through the model once, and every row
reads its keys and values from that one copy; the tokens the run draws have
theirs in buffers made once for the whole run, in chunks (``forward.generated_buffers``); every draw is
``stateless_categorical`` seeded by (seed, prompt, step), so the same inputs
and seed give the same samples whatever ran before. The loop stops when
every row has written <|endoftext|>: what follows it is cut anyway, and the
draws before it do not depend on when the loop stops.

The loop is built in TF1's frames (``tf1_loop``), not as TF2's ``While``.
There, each tensor the body reads from outside (the weights, about 190 for
124M) would be a loop variable of its own, carried through Merge, Switch,
Identity and NextIteration at every token: some 1,200 executed nodes a token
that move no number. In a TF1 frame they enter once per run. The same kernels
run on the same tensors, so the samples are the same bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from . import forward, graph_cache


@contextlib.contextmanager
def tf1_loop(tf) -> Iterator[None]:
    """``tf.while_loop`` builds TF1's Enter/Exit frames inside this block, in a plain
    ``tf.Graph`` (under ``tf.function`` loops are always TF2's, so that is refused). The
    process's setting is put back after; it is process-wide, so graphs are built from one
    thread at a time, as the engines do."""
    v1 = tf.compat.v1
    if v1.get_default_graph().building_function:
        raise RuntimeError("tf1_loop builds in a plain tf.Graph, not under tf.function")
    was_v2 = v1.control_flow_v2_enabled()
    v1.disable_control_flow_v2()
    try:
        yield
    finally:
        if was_v2:
            v1.enable_control_flow_v2()


class SamplerGraph(graph_cache.Kept):
    def __init__(self, tf, model, hp, end_of_text: int | None, kernel=None):
        """``end_of_text`` None: no early stop (the loop always runs ``length`` steps).
        ``kernel``: the compiled kernels (``kernels.load``), or None (``forward.step``)."""
        v1 = tf.compat.v1
        self.context = v1.placeholder(tf.int32, [1, None], name="context")
        self.batch = v1.placeholder(tf.int32, [], name="samples")
        self.temperature = v1.placeholder(tf.float32, [], name="temperature")
        self.top_k = v1.placeholder(tf.int32, [], name="top_k")
        self.length = v1.placeholder(tf.int32, [], name="length")
        self.seed = v1.placeholder(tf.int64, [2], name="seed")

        def filtered(logits):
            """top_k as one comparison against each row's k-th value (top_k 0: no filter)."""
            values, _ = tf.nn.top_k(logits, k=tf.maximum(self.top_k, 1))
            floor = tf.where(self.top_k > 0, values[:, -1], tf.fill(tf.shape(values[:, -1]), float("-inf")))
            return tf.where(logits < floor[:, tf.newaxis], tf.constant(-1e10, logits.dtype), logits)

        def draw(logits, i):
            seed = self.seed + tf.stack([tf.constant(0, tf.int64), tf.cast(i, tf.int64)])
            return tf.random.stateless_categorical(filtered(logits / self.temperature), 1, seed=seed, dtype=tf.int32)[:, 0]

        past = forward.prompt(tf, model, hp, self.context[:, :-1])
        weights = forward.step_weights(tf, hp)  # shaped once, outside the loop
        keys0 = forward.generated_buffers(tf, hp, self.batch, self.length)
        values0 = forward.generated_buffers(tf, hp, self.batch, self.length)
        last = tf.tile(self.context[:, -1], [self.batch])
        eot = tf.constant(-1 if end_of_text is None else end_of_text, tf.int32)
        cache_shape = tf.TensorShape([None, None, forward.CHUNK, hp.n_embd // hp.n_head])

        def body(i, keys, values, prev, ended, output):
            logits, keys, values = forward.step(tf, hp, weights, prev, past, keys, values, i, kernel)
            token = draw(logits, i)
            # a list, as loop_vars is: with maximum_iterations a TF1 loop compares the structures
            return [i + 1, keys, values, token, ended | tf.equal(token, eot), tf.concat([output, token[:, tf.newaxis]], axis=1)]

        with tf1_loop(tf):
            self.steps, *_, self.generated = tf.while_loop(
                cond=lambda i, keys, values, prev, ended, output: tf.logical_not(tf.reduce_all(ended)),
                body=body,
                maximum_iterations=self.length,
                loop_vars=[tf.constant(0), keys0, values0, last, tf.zeros([self.batch], tf.bool), tf.zeros([self.batch, 0], tf.int32)],
                shape_invariants=[tf.TensorShape([]), [cache_shape] * hp.n_layer, [cache_shape] * hp.n_layer, tf.TensorShape([None]),
                                  tf.TensorShape([None]), tf.TensorShape([None, None])],
            )

    HANDLES = ("context", "batch", "temperature", "top_k", "length", "seed", "steps", "generated")

    def feed(self, tokens: list[int], nsamples: int, temperature: float, top_k: int, length: int, seed: list[int]) -> dict:
        return {
            self.context: [tokens],
            self.batch: nsamples,
            self.temperature: temperature,
            self.top_k: top_k,
            self.length: length,
            self.seed: seed,
        }
