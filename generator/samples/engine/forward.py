"""GPT-2's forward pass, from gpt-2-simple's own model blocks: the training loss, the prompt pass
and one sampling step.

``model.model`` (the library's, unchanged) gives the loss over a passage. For
sampling, ``prompt`` runs the library's blocks over the prompt (causal mask and
all) and keeps each layer's keys and values; ``step`` then adds one token at a
time. The step applies the same operations, in the same order, as the
library's ``attn`` with ``past``, so its logits are bit for bit the library's.
It leaves out only what costs time and changes no bit:

* the library stacks K and V into one ``present``, unstacks ``past`` again and
  concatenates each, and a caller concatenates past and present once more: three
  copies of the whole cache per layer per token, each a new tensor a little larger
  than the last. Here K and V are separate buffers, each allocated once for the
  whole run (``cache_buffers``: every position the run can reach) and written one
  position a step, in place (``InplaceUpdate``). The attention reads the positions
  written so far: the same tensor, element for element, that the library's
  concatenation makes.
  So the memory the cache takes is its final size, once, where growing tensors
  left freed pieces too small for the next step's (sampling's peak on 355M's
  shape, 10 samples: 2.86 GiB before, 2.70 after).
* a single new token may attend to every position, so the causal mask is all
  ones, and ``w*1 - 1e10*0`` is ``w`` exactly: the step skips it.
* a row is ``[batch, n_embd]``, not the library's ``[batch, 1, n_embd]``: its
  reshapes and transposes around a length-1 axis move no number, and the
  kernels' shapes are ``conv1d``'s own. Each ``conv1d`` kernel is reshaped once,
  outside the sampling loop (``step_weights``). Together about a thousand
  small operations fewer per token.
* the output layer is the library's ``matmul(h, wte, transpose_b=True)``, cut
  along the vocabulary into blocks of about 4 MB (``vocab_blocks``), one matmul
  each. Each logit is still a dot product over ``n_embd``, and on this project's
  machine the kernels sum it in the same order whatever the number of columns,
  so the bits are the library's (a test checks every logit at 124M's and 355M's
  width, at batch 1, 3 and 10, on the machine it runs on); but each block's packed copy stays
  in the CPU's cache, where the whole ``[n_vocab, n_embd]`` operand (154 MB for
  124M) went through memory twice: 28 ms a step became 15 ms on this project's
  machine, as fast as a transposed copy of ``wte``, which would cost 154 MB
  more and, on this project's AVX-512 machine, differed from the library's
  logits in the last bit.
"""

from __future__ import annotations

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


def cache_buffers(tf, prompt_cache: list, batch, length) -> list:
    """Each layer's prompt keys (or values) [1, heads, n, features], with room for ``length``
    more positions, repeated for the ``batch``: the buffers ``step`` writes into."""
    return [tf.tile(tf.pad(c, [[0, 0], [0, 0], [0, length], [0, 0]]), [batch, 1, 1, 1]) for c in prompt_cache]


def step(tf, model, hp, weights: dict, tokens, keys, values, position):
    """One token per row, ``tokens`` [batch], at ``position`` (a scalar: the positions before
    it are filled): the logits [batch, vocab], and ``keys`` and ``values`` (``cache_buffers``,
    [batch, heads, positions, features] each) with this token's written at ``position``, in
    place. ``weights``: ``step_weights``.

    ``InplaceUpdate`` writes into its input's memory whatever else holds it, so a buffer
    must have no reader but its own next write: here, the attention reads the positions
    written so far (a copy) before the logits, and the next step's write waits for the
    token drawn from them."""
    heads, nx = hp.n_head, hp.n_embd
    features = nx // heads

    def dense(x, kernel_bias):
        return tf.matmul(x, kernel_bias[0]) + kernel_bias[1]

    def split_heads(x):  # [batch, nx] -> [batch, heads, 1, features]: the same order in memory
        return tf.reshape(x, [-1, heads, 1, features])

    shape = tf.shape(keys[0])
    # a buffer seen as rows of features, [batch * heads * positions, features]: this step's row of each (row, head)
    at = tf.range(shape[0] * heads) * shape[2] + position

    def written(buffer, new):
        """``new`` [batch, heads, 1, features] written at ``position``, and every position so far:
        the library's concatenated past and present, element for element."""
        rows = tf.raw_ops.InplaceUpdate(x=tf.reshape(buffer, [-1, features]), i=at, v=tf.reshape(new, [-1, features]))
        buffer = tf.reshape(rows, shape)
        return buffer, buffer[:, :, : position + 1]

    h = tf.gather(weights["wte"], tokens) + tf.gather(weights["wpe"], position)
    new_keys, new_values = [], []
    for layer, w in enumerate(weights["layers"]):
        q, k, v = map(split_heads, tf.split(dense(_norm(tf, h, w["ln_1"]), w["c_attn"]), 3, axis=1))
        key_buffer, k = written(keys[layer], k)
        value_buffer, v = written(values[layer], v)
        new_keys.append(key_buffer)
        new_values.append(value_buffer)
        scores = tf.matmul(q, k, transpose_b=True)
        scores = scores * tf.math.rsqrt(tf.cast(features, scores.dtype))
        a = tf.matmul(model.softmax(scores), v)
        h = h + dense(tf.reshape(a, [-1, nx]), w["attn_proj"])
        h = h + dense(model.gelu(dense(_norm(tf, h, w["ln_2"]), w["c_fc"])), w["mlp_proj"])
    return output_layer(tf, _norm(tf, h, weights["ln_f"]), weights["blocks"]), new_keys, new_values
