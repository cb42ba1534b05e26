"""GPT-2's forward pass, from gpt-2-simple's own model blocks: the training loss, and one sampling step.

``model.model`` (the library's, unchanged) gives the loss over a passage.
For sampling, ``step`` runs the same blocks up to the final norm and computes
logits for the last position only (against the token embeddings, as
gpt-2-simple's own output layer), with each layer's keys and values kept as one tensor so the
cache is not unstacked and restacked around every generated token.
"""

from __future__ import annotations


def training_loss(tf, model, hp, tokens):
    """gpt-2-simple's finetune() loss: mean next-token cross-entropy over ``tokens`` [batch, n]."""
    out = model.model(hparams=hp, X=tokens, reuse=tf.compat.v1.AUTO_REUSE)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tokens[:, 1:], logits=out["logits"][:, :-1]))


def step(tf, model, hp, wte, tokens, pasts=None):
    """Logits of the last position [batch, vocab], and each layer's keys and values with ``tokens`` appended."""
    v1 = tf.compat.v1
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
    return tf.matmul(h[:, -1, :], wte, transpose_b=True), presents
