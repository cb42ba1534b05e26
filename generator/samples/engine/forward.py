"""GPT-2's forward pass, from gpt-2-simple's own model blocks: the training loss, the prompt pass
and one sampling step.

``model.model`` (the library's, unchanged) gives the loss over a passage. For
sampling, ``prompt`` runs the library's blocks over the prompt (causal mask and
all) and keeps each layer's keys and values; ``step`` then adds one token at a
time. The step applies the same operations, in the same order, as the
library's ``attn`` with ``past``, so its logits are bit for bit the library's.
It leaves out only what costs memory traffic and changes no bit:

* the library stacks K and V into one ``present``, unstacks ``past`` again and
  concatenates each, and a caller concatenates past and present once more: three
  copies of the whole cache per layer per token. Here K and V are separate
  tensors, each concatenated once.
* a single new token may attend to every position, so the causal mask is all
  ones, and ``w*1 - 1e10*0`` is ``w`` exactly: the step skips it.

The output layer stays ``matmul(h, wte, transpose_b=True)``, as the library's.
A transposed copy of ``wte`` (``[n_embd, n_vocab]``) multiplies faster on some
CPUs, but on this project's AVX-512 machine its logits differed from the
library's in the last bit (9.5e-7), and a sample that changes is not the
exhibit's sample any more.
"""

from __future__ import annotations


def training_loss(tf, model, hp, tokens):
    """gpt-2-simple's finetune() loss: mean next-token cross-entropy over ``tokens`` [batch, n]."""
    out = model.model(hparams=hp, X=tokens, reuse=tf.compat.v1.AUTO_REUSE)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tokens[:, 1:], logits=out["logits"][:, :-1]))


def _embed(tf, model, tokens, past_length):
    v1 = tf.compat.v1
    wte, wpe = v1.get_variable("wte"), v1.get_variable("wpe")
    return tf.gather(wte, tokens) + tf.gather(wpe, model.positions_for(tokens, past_length))


def prompt(tf, model, hp, wte, tokens):
    """The prompt [1, n] through the library's blocks: the logits of its last position, and
    each layer's keys and values ([1, heads, n, features] each)."""
    v1 = tf.compat.v1
    with v1.variable_scope("model", reuse=True):
        h = _embed(tf, model, tokens, 0)
        keys, values = [], []
        for layer in range(hp.n_layer):
            h, present = model.block(h, "h%d" % layer, past=None, hparams=hp)
            k, v = tf.unstack(present, axis=1)
            keys.append(k)
            values.append(v)
        h = model.norm(h, "ln_f")
    return tf.matmul(h[:, -1, :], wte, transpose_b=True), keys, values


def step(tf, model, hp, wte, tokens, keys, values):
    """One token per row [batch, 1] after the cached ``keys`` and ``values``: the logits
    [batch, vocab], and the caches with this token appended."""
    v1 = tf.compat.v1
    heads = hp.n_head

    def split_heads(x):
        return tf.transpose(a=model.split_states(x, heads), perm=[0, 2, 1, 3])

    with v1.variable_scope("model", reuse=True):
        h = _embed(tf, model, tokens, tf.shape(keys[0])[-2])
        new_keys, new_values = [], []
        for layer in range(hp.n_layer):
            with v1.variable_scope("h%d" % layer):
                nx = hp.n_embd
                x = model.norm(h, "ln_1")
                with v1.variable_scope("attn"):
                    c = model.conv1d(x, "c_attn", nx * 3)
                    q, k, v = map(split_heads, tf.split(c, 3, axis=2))
                    k = tf.concat([keys[layer], k], axis=-2)
                    v = tf.concat([values[layer], v], axis=-2)
                    w = tf.matmul(q, k, transpose_b=True)
                    w = w * tf.math.rsqrt(tf.cast(nx // heads, w.dtype))
                    a = tf.matmul(model.softmax(w), v)
                    a = model.merge_states(tf.transpose(a=a, perm=[0, 2, 1, 3]))
                    a = model.conv1d(a, "c_proj", nx)
                h = h + a
                h = h + model.mlp(model.norm(h, "ln_2"), "mlp", nx * 4, hparams=hp)
            new_keys.append(k)
            new_values.append(v)
        h = model.norm(h, "ln_f")
    return tf.matmul(h[:, -1, :], wte, transpose_b=True), new_keys, new_values
