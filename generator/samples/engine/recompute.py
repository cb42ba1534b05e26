"""The fine-tune's backward pass one transformer block at a time, each block's forward pass
computed again from its input just before its gradient: gpt-2-simple's "memory-saving
gradients" (what its README recommends for the large models), which need TF1's graph editor
and exit under TensorFlow 2.

A backward pass through the whole model at once keeps every block's activations from the
forward pass until the gradient reaches that block: about 80,000 floats a token a block
(GELU's intermediates are half of them): on 1558M's shape the fine-tune rose 1.0 GB over
the restored engine for a passage of the exhibit (``bench/memory.py``), 0.68 GB this way. Here the forward pass keeps only each block's input, the residual
stream the library already lists in its ``checkpoints`` collection (n_embd floats a token
a block), and each block is run again, on that input, once the gradient of its output
exists. Its activations then live for that block's gradient alone.

The bits do not change: the same operations run on the same values, and the gradient of
every weight is the one ``tf.gradients`` of the whole loss gives, bit for bit (a test
checks it on the tiny checkpoint; on a checkpoint of 124M's shape all 148 weights agreed
too, in a one-off run). The cost is a second forward pass through the blocks, not through
the output layer: on 1558M's shape the fine-tune took 11.6 s against 10.1 s
(``bench/generation.py``).
"""

from __future__ import annotations

_ADD = frozenset({"Add", "AddV2"})


def block_inputs(outputs: list) -> list:
    """Each block's input, from the blocks' outputs (the library's ``checkpoints``): a block
    ends ``x = x + a; x = x + m``, so its input is the first operand of the first sum."""
    inputs = []
    for layer, out in enumerate(outputs):
        first = out.op.inputs[0].op if out.op.type in _ADD else None
        if first is None or first.type not in _ADD:
            raise ValueError(f"{out.name}: gpt-2-simple's block no longer ends in x + a + m: the engine needs updating")
        x = first.inputs[0]
        if layer and x is not outputs[layer - 1]:
            raise ValueError(f"{out.name}: block {layer}'s input is not block {layer - 1}'s output")
        inputs.append(x)
    return inputs


def gradients(tf, blocks, top, top_grad, weights, gate: dict) -> list:
    """Every weight's gradient of ``top`` (the final norm's output, flattened, which the output
    layer reads), given ``top_grad``, block by block from the top. ``blocks(layer, x)``
    (``forward.Blocks``) builds block ``layer`` again on ``x`` with the same variables. The
    embeddings' gradient is their lookup's only (an ``IndexedSlices``, as ``tf.gradients``
    gives it); the output layer's part is the caller's."""
    graph, n_layer = top.graph, blocks.n_layer
    outputs = graph.get_collection("checkpoints")[-n_layer:]
    if len(outputs) != n_layer:
        raise ValueError(f"gpt-2-simple's model listed {len(outputs)} block outputs, not {n_layer}")
    inputs = block_inputs(outputs)
    grads: dict = {}
    mine = [[w for w in weights if w.op.name.startswith(f"model/h{layer}/")] for layer in range(n_layer)]
    owned = {w.op.name for ws in mine for w in ws}
    rest = [w for w in weights if w.op.name not in owned]
    below = ancestors(inputs[0].op)  # the embeddings: read to make the first block's input
    lookup = [w for w in rest if w.op in below]
    above = [w for w in rest if w.op not in below]  # the final norm

    g, *gw = tf.gradients(ys=top, xs=[outputs[-1], *above], grad_ys=top_grad, **gate)
    grads.update(zip(above, gw))
    for layer in reversed(range(n_layer)):
        with tf.control_dependencies([g.op]):  # not before its output's gradient exists
            x = tf.identity(inputs[layer], name=f"recompute/h{layer}")
        g, *gw = tf.gradients(ys=blocks(layer, x), xs=[x, *mine[layer]], grad_ys=g, **gate)
        grads.update(zip(mine[layer], gw))
    grads.update(zip(lookup, tf.gradients(ys=inputs[0], xs=lookup, grad_ys=g, **gate)))
    missing = [w.op.name for w in weights if grads.get(w) is None]
    if missing:  # read somewhere this walk does not look: its gradient would be lost
        raise ValueError(f"no gradient for {missing[:3]} block by block: gpt-2-simple's model has changed")
    return [grads[w] for w in weights]


def ancestors(op) -> set:
    """Every op ``op`` depends on, through its inputs and its control inputs."""
    seen, todo = set(), [op]
    while todo:
        o = todo.pop()
        for parent in [t.op for t in o.inputs] + list(o.control_inputs):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen
