"""GPT-2's forward pass, from gpt-2-simple's own model blocks: the training loss, the prompt pass
and one sampling step.

``model.model`` (the library's, unchanged) gives the loss over a passage, and ``prompt``
runs the library's blocks over the prompt (causal mask and all), keeping each layer's keys
and values. ``step`` then adds one token a row at a time. It computes what the library's
``attn`` with ``past`` computes, in another order where that saves memory traffic, so its
logits are the library's within rounding (a test holds every logit within 1e-5 of its row's
largest, at every step; they differ by about 4e-7 on the tiny checkpoint). Engine version 3;
version 1 was the library's bit for bit, and its sampler 1.58x its floor on 124M's shape and
1.36x on 1558M's, against 1.41x and 1.20x for version 2 and 1.46x and 1.24x for this one
(``bench/generation.py``), which has more, smaller operations a layer and holds less
memory. What it does otherwise, and why:

* the prompt's keys and values are read by every row from one copy, [1, heads, positions,
  features], broadcast by the matmuls; the library tiles them for the batch. The prompt's
  part and the drawn part of each score row are computed apart and joined for one softmax,
  and the weighted sum is taken in the same two parts.
* the drawn tokens' keys and values go in buffers made once for the run, in chunks of
  ``CHUNK`` positions, [chunks, batch * heads, CHUNK, features], written one position a
  step in place (``InplaceUpdate``). The attention reads the chunks written so far through
  a slice of the first axis, which shares the buffer's memory, with the positions of the
  last chunk not yet written masked out as the library masks the future (about -1e10
  before the softmax: a weight of 0). A slice of the positions written would be a copy of
  them, every layer, every token (version 1); a buffer read whole would cost the full
  length from the first token on. Version 2 grew the buffers 16 positions at a time
  instead, and each size it left behind stayed in TensorFlow's allocator, which keeps what
  it once held: 0.32 GB over the keys and values themselves on 1558M's shape.
* GELU's cube is ``x * x * x``, not ``tf.pow``, which took 6.7% of the step's op time in
  a traced run of version 1. The softmax is TensorFlow's one kernel, where the library writes it in four.
* a single new token may attend to every earlier position: the prompt's part needs no mask.
* a row is ``[batch, n_embd]``, not ``[batch, 1, n_embd]``, and each ``conv1d`` kernel is
  reshaped once, outside the sampling loop (``step_weights``): about a thousand small
  operations fewer per token.
* the output layer is the library's ``matmul(h, wte, transpose_b=True)``, cut along the
  vocabulary into blocks of about 4 MB (``vocab_blocks``), one matmul each: each logit is
  still one dot product over ``n_embd``, summed in the library's order on this project's
  machine (a test checks every logit at 124M's and 355M's width), and each block's packed
  copy stays in the CPU's cache, where the whole ``[n_vocab, n_embd]`` operand went through
  memory twice: 28 ms a step became 15 ms on 124M, as fast as a transposed copy of ``wte``,
  which would cost its size again.

Engine version 4 computes each layer's attention and each norm of a step in compiled ops
(``step_kernels.cc``, loaded by ``kernels.py``; ``step``'s ``kernel``): the attention
above, with the prompt's part and the drawn part in one pass, was four small batched
matmuls, two transposes, a concatenation and a softmax a layer, each paying oneDNN's fixed
cost, and the sampler went from 1.46x its floor to 1.29x on 124M's shape and from 1.24x to
1.16x on 1558M's. Where they cannot be built, the step is the TensorFlow operations here,
version 3.

Engine version 5 computes the step's matrix products in compiled ops too: each layer's four
(``VsrDecodeDense``, the bias added in the same pass) and the output layer against ``wte`` as
it is (``VsrDecodeLogits``; no blocks, no copy). At a batch of 10 a step reads every weight
once, and TensorFlow's matmuls read them at about 10 GB/s here; the kernels go down a weight
32 rows at a time along its columns, six samples' sums in registers, one contiguous shard a
core, at about 22 GB/s (``bench/products.py``). Each output is a chain of fused multiply-adds
in an order the source fixes, so the bits depend on the inputs alone, whatever the batch or
the threads; the logits stay within 1e-5 of the library's. The sampler went from 1.29x the
floor (TensorFlow's own matmuls of the same steps) to 0.74x on 124M's shape, and from 1.16x
to 0.64x on 1558M's (at 10 samples; more samples in ``bench/generation.py``).

Measured and left out: TensorFlow's fused matmul with the bias, the residual and GELU
(``_FusedMatMul``, what its graph optimizer makes of these patterns): slower than the plain
matmuls here (124M's sampler, in one session: 6.95 s against 6.6-6.8 s), and not every
device has every fusion.
"""

from __future__ import annotations

import numpy as np

from . import kernels

VOCAB_BLOCK_BYTES = 4 << 20


def training_loss(tf, model, hp, tokens):
    """gpt-2-simple's finetune() loss: mean next-token cross-entropy over ``tokens`` [batch, n];
    and the output layer's op, ``MatMul(h, wte, transpose_b=True)``, under the library's reshape
    of the logits (``adam.gradients`` takes its gradient apart)."""
    out = model.model(hparams=hp, X=tokens, reuse=tf.compat.v1.AUTO_REUSE)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tokens[:, 1:], logits=out["logits"][:, :-1]))
    output = out["logits"].op.inputs[0].op
    if out["logits"].op.type != "Reshape" or output.type != "MatMul":
        raise ValueError("gpt-2-simple's model no longer ends in reshape(matmul(h, wte)): the engine needs updating")
    return loss, output


class Blocks:
    """The library's transformer blocks, to build again on a given input with the same
    variables (``recompute``)."""

    def __init__(self, tf, model, hp):
        self.tf, self.model, self.hp = tf, model, hp
        self.n_layer = hp.n_layer

    def __call__(self, layer: int, x):
        """Block ``layer`` on ``x`` [batch, n, n_embd]: its output."""
        with self.tf.compat.v1.variable_scope("model", reuse=True):
            return self.model.block(x, "h%d" % layer, past=None, hparams=self.hp)[0]


def prompt(tf, model, hp, tokens):
    """The prompt [1, n] through the library's blocks: each layer's keys and values
    ([1, heads, n, features] each)."""
    v1 = tf.compat.v1
    with v1.variable_scope("model", reuse=True):
        wte, wpe = v1.get_variable("wte"), v1.get_variable("wpe")
        h = tf.gather(wte, tokens) + tf.gather(wpe, model.positions_for(tokens, 0))
        keys, values = [], []
        for layer in range(hp.n_layer):
            h, present = model.block(h, "h%d" % layer, past=None, hparams=hp)
            k, v = tf.unstack(present, axis=1)
            keys.append(k)
            values.append(v)
    return keys, values


def vocab_blocks(tf, wte, hp, rows: int | None = None) -> list:
    """``wte`` [n_vocab, n_embd] cut into row blocks of ``rows`` (about ``VOCAB_BLOCK_BYTES`` each).
    Slices along the first axis share ``wte``'s memory: nothing is copied."""
    rows = rows or max(1, VOCAB_BLOCK_BYTES // (4 * hp.n_embd))
    return [wte[start : start + rows] for start in range(0, hp.n_vocab, rows)]


def output_layer(tf, h, blocks: list):
    """``matmul(h, wte, transpose_b=True)``, bit for bit, one vocabulary block at a time."""
    if len(blocks) == 1:
        return tf.matmul(h, blocks[0], transpose_b=True)
    return tf.concat([tf.matmul(h, block, transpose_b=True) for block in blocks], axis=1)


def step_weights(tf, hp, block_rows: int | None = None) -> dict:
    """The weights a step reads, shaped for it once, outside the sampling loop: each
    ``conv1d``'s ``[1, nx, nf]`` kernel as ``[nx, nf]``, and ``wte`` in vocabulary blocks."""
    v1 = tf.compat.v1
    with v1.variable_scope("model", reuse=True):
        get = v1.get_variable

        def dense(scope):
            w = get(scope + "/w")
            return tf.reshape(w, w.shape[1:]), get(scope + "/b")

        def norm(scope):
            return get(scope + "/g"), get(scope + "/b")

        layers = [
            {"ln_1": norm(f"h{i}/ln_1"), "c_attn": dense(f"h{i}/attn/c_attn"), "attn_proj": dense(f"h{i}/attn/c_proj"),
             "ln_2": norm(f"h{i}/ln_2"), "c_fc": dense(f"h{i}/mlp/c_fc"), "mlp_proj": dense(f"h{i}/mlp/c_proj")}
            for i in range(hp.n_layer)
        ]
        return {"layers": layers, "ln_f": norm("ln_f"), "wte": get("wte"), "wpe": get("wpe"),
                "blocks": vocab_blocks(tf, get("wte"), hp, block_rows)}


def _norm(tf, x, gain_bias, epsilon=1e-5):
    """The library's ``norm`` over the last axis: the same operations in the same order."""
    g, b = gain_bias
    u = tf.reduce_mean(input_tensor=x, axis=-1, keepdims=True)
    s = tf.reduce_mean(input_tensor=tf.square(x - u), axis=-1, keepdims=True)
    return (x - u) * tf.math.rsqrt(s + epsilon) * g + b


CHUNK = 16  # positions a chunk of the drawn tokens' keys and values holds


def generated_buffers(tf, hp, batch, length, chunk: int = CHUNK) -> list:
    """Each layer's keys (or values) for the ``length`` tokens a run draws, in chunks of
    ``chunk`` positions: [chunks, batch * heads, chunk, features], zeros until ``step`` writes
    them. Allocated once, at the start of the run, never grown: buffers that grew would leave
    every earlier size behind as holes in TensorFlow's allocator, which keeps all it held.

    ``Empty``, not ``zeros``: ``step`` writes into them in place, so each must be a tensor of
    its own, and TensorFlow's graph optimizer merges ops that compute the same thing (two
    ``zeros`` of one shape would be one buffer, every layer's keys written over each other's).
    ``Empty`` is exempt, made for this. Zeros, not whatever the memory held: a weight of 0
    times a NaN would be NaN."""
    chunks = (length + chunk - 1) // chunk
    shape = tf.stack([chunks, batch * hp.n_head, chunk, hp.n_embd // hp.n_head])
    return [tf.raw_ops.Empty(shape=shape, dtype=tf.float32, init=True) for _ in range(hp.n_layer)]


def gelu(tf, x):
    """The library's GELU with its cube as ``x * x * x``: ``tf.pow`` took 6.7% of the step's
    op time (a traced run of version 1), and is not correctly rounded either."""
    return 0.5 * x * (1 + tf.tanh(GELU_SCALE * (x + 0.044715 * (x * x * x))))


GELU_SCALE = float(np.sqrt(2 / np.pi))  # the library's np.sqrt(2/np.pi), the same float32 when it meets x


def step(tf, hp, weights: dict, tokens, past, keys, values, i, kernel=None):
    """The ``i``-th token the run feeds, one per row (``tokens`` [batch]): the logits
    [batch, vocab], and ``keys`` and ``values`` (``generated_buffers``) with this token's
    written at ``i``, in place. ``past``: the prompt's keys and values (``prompt``), read by
    every row. ``weights``: ``step_weights``.

    The attention reads the chunks written so far through a view of the buffer (a slice of
    its first axis shares its memory), all of each chunk, the positions not yet written in
    the last one masked out. ``InplaceUpdate`` writes into its input's memory whatever else
    holds it, so a buffer must have no reader but its own next write: here the attention
    reads it before the logits, and the next step's write waits for the token drawn from them.

    ``kernel``: the compiled kernels (``kernels.load``, engine version 5): ``attend`` below,
    each norm, each matrix product and the output layer, one op each; None, the TensorFlow
    operations (version 3)."""
    heads, nx = hp.n_head, hp.n_embd
    features = nx // heads
    prompt_keys, prompt_values = past
    shape = tf.shape(keys[0])  # [chunks, batch * heads, chunk, features]
    rows, chunk = shape[1], shape[2]
    written = i // chunk + 1  # chunks holding a position up to i
    # a buffer seen as rows of features, [chunks * batch * heads * chunk, features]: this token's row of each (row, head)
    at = ((written - 1) * rows + tf.range(rows)) * chunk + i % chunk

    def write(buffer, new):
        updated = tf.raw_ops.InplaceUpdate(x=tf.reshape(buffer, [-1, features]), i=at, v=tf.reshape(new, [-1, features]))
        return tf.reshape(updated, shape)

    def attend(q, prompt_k, prompt_v, k, v):
        """q [batch, heads, 1, features] against the prompt's keys ([1, heads, positions,
        features]: one copy for every row, broadcast by the matmul) and the chunks of the row's
        own keys written so far ([written, batch * heads, chunk, features], a view; q is
        broadcast over the chunks). The scores, [batch, heads, 1, prompt + written * chunk],
        take one softmax; each chunk's weighted values are then summed."""
        scale = tf.math.rsqrt(tf.cast(features, tf.float32))
        # added to the scores of the generated positions: 0 for those this token attends to (those
        # before it, and itself), -1e10 for the rest, as the library masks the future: a score plus
        # -1e10 is about -1e10, whose weight is 0, and 0 times the zeros the buffer holds there adds nothing
        future = tf.where(tf.range(written * chunk) <= i, 0.0, -1e10)
        n = tf.shape(prompt_k)[2]
        on_prompt = tf.matmul(q, prompt_k, transpose_b=True) * scale
        k, v = k[:written], v[:written]
        on_chunks = tf.matmul(tf.reshape(q, [1, -1, 1, features]), k, transpose_b=True)  # [written, batch * heads, 1, chunk]
        on_generated = tf.reshape(tf.transpose(on_chunks, [1, 2, 0, 3]), [-1, heads, 1, written * chunk]) * scale + future
        w = tf.nn.softmax(tf.concat([on_prompt, on_generated], axis=-1))
        by_chunk = tf.transpose(tf.reshape(w[..., n:], [-1, 1, written, chunk]), [2, 0, 1, 3])  # [written, batch * heads, 1, chunk]
        generated = tf.reduce_sum(tf.matmul(by_chunk, v), axis=0)  # [batch * heads, 1, features]
        return tf.reshape(tf.matmul(w[..., :n], prompt_v), [-1, nx]) + tf.reshape(generated, [-1, nx])

    def dense(x, kernel_bias):
        if kernel is not None:
            return getattr(kernel, kernels.DENSE)(x, *kernel_bias)
        return tf.matmul(x, kernel_bias[0]) + kernel_bias[1]

    def norm(x, gain_bias):
        return _norm(tf, x, gain_bias) if kernel is None else getattr(kernel, kernels.NORM)(x, *gain_bias)

    h = tf.gather(weights["wte"], tokens) + tf.gather(weights["wpe"], tf.shape(prompt_keys[0])[2] + i)
    new_keys, new_values = [], []
    for layer, w in enumerate(weights["layers"]):
        q, k, v = tf.split(dense(norm(h, w["ln_1"]), w["c_attn"]), 3, axis=1)  # each [batch, n_embd]
        new_keys.append(write(keys[layer], k))
        new_values.append(write(values[layer], v))
        if kernel is not None:
            a = getattr(kernel, kernels.ATTENTION)(q, prompt_keys[layer], prompt_values[layer], new_keys[layer], new_values[layer], i)
        else:
            a = attend(tf.reshape(q, [-1, heads, 1, features]), prompt_keys[layer], prompt_values[layer], new_keys[layer], new_values[layer])
        h = h + dense(a, w["attn_proj"])
        h = h + dense(gelu(tf, dense(norm(h, w["ln_2"]), w["c_fc"])), w["mlp_proj"])
    h = norm(h, weights["ln_f"])
    logits = output_layer(tf, h, weights["blocks"]) if kernel is None else getattr(kernel, kernels.LOGITS)(h, weights["wte"])
    return logits, new_keys, new_values
