"""Adam, written out, as tf.compat.v1.train.AdamOptimizer computes it, with no race.

From a fresh optimizer (m = v = 0, t = 1) one Adam step moves each weight by
lr·√(1-β2)/(1-β1) · m/(√v + ε) with m = (1-β1)g and v = (1-β2)g², that is
lr·g/(|g| + ε/√(1-β2)): no slot variables are needed, and three elementwise
ops per weight keep the temporaries small. Slots are built only when a run
asks for more than one step.

Two ways to get the gradient:

* ``step``: one run computes every gradient of the passage's loss and
  updates. The weights are reference variables, updated in place, so an update
  that ran while another op still read that weight would make the result depend
  on thread timing. TF's own ``minimize()`` makes every update wait for every
  gradient, and so did this engine: then a whole gradient set, the model's size,
  is alive at once. Here each weight's update waits for its own gradient and for
  every op of the step that reads that weight (through the views that share its
  buffer: ``read``, reshapes, slices), and for nothing else: the same values
  are read and written, so the same bits, and each gradient is freed as soon
  as its weight has moved. (``gate_gradients`` already orders the backward
  reads before the gradient they sit beside; the explicit dependencies state
  the rule for every read through the ops listed in ``_VIEWS``, which covers
  every way gpt-2-simple's graph reads a weight: ``read`` and ``conv1d``'s
  reshape.)
* ``accumulate`` / ``apply``: gpt-2-simple's AccumulatingOptimizer. Each
  window's gradient is added into a sum in its own run; one more run applies
  Adam to the sum. Gradients and updates never share a run.
"""

from __future__ import annotations

from . import graph_cache, kernels, recompute

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8  # tf.compat.v1.train.AdamOptimizer's defaults


class Adam(graph_cache.Kept):
    def __init__(self, tf, loss, weights, *, max_steps: int = 1, accumulate: bool = False, output=None, blocks=None,
                 kernel=None):
        """``output``: the output layer's ``MatMul(h, wte, transpose_b=True)`` (from ``forward.training_loss``),
        whose gradient for ``wte`` the one-step update then computes block by block (``gradients``).
        ``kernel`` (``kernels.load``): the one-step update as one compiled op a weight (or a block
        of rows), the same bits as the operations it replaces."""
        v1 = tf.compat.v1
        self.kernel = kernel
        self.lr = v1.placeholder(tf.float32, [], name="learning_rate")
        self.t = v1.placeholder(tf.float32, [], name="adam_step")
        self.weights = weights
        self.grads, self._parts = gradients(tf, loss, weights, output, blocks)
        self.slots: list = []
        if max_steps > 1:
            with v1.variable_scope("adam"):
                for w in weights:
                    m = v1.get_variable(w.op.name + "/m", w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False)
                    v = v1.get_variable(w.op.name + "/v", w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False)
                    self.slots.append((m, v))
        self.step = self._updates(tf, self.grads, readers_in_step(loss, self.grads, weights))
        self.accumulate = self.apply = self.reset_sums = None
        if accumulate:
            with v1.variable_scope("accumulated"):
                sums = [v1.get_variable(w.op.name, w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False) for w in weights]
            self.reset_sums = tf.group(*[s.assign(tf.zeros_like(s)) for s in sums])
            self.accumulate = tf.group(*[s.assign_add(g) for s, g in zip(sums, self.grads)])
            self.apply = self._updates(tf, sums)
        self.reset_slots = tf.group(*[s.assign(tf.zeros_like(s)) for pair in self.slots for s in pair])

    HANDLES = ("lr", "t", "grads", "step", "reset_slots", "accumulate", "apply", "reset_sums")

    def _updates(self, tf, grads, readers: list[list] | None = None):
        """Each weight's update, after ``readers[i]`` (the ops that must have read weight i first)."""
        readers = readers or [[] for _ in self.weights]
        lr_t = self.lr * tf.sqrt(1 - BETA2**self.t) / (1 - BETA1**self.t) if self.slots else None
        updates = []
        for i, (w, g) in enumerate(zip(self.weights, grads)):
            with tf.control_dependencies(readers[i]):
                if not self.slots:
                    parts = self._parts[i] if grads is self.grads else None
                    updates.append(self._closed_form(tf, w, g, parts))
                    continue
                m, v = self.slots[i]
                m_t = m.assign(BETA1 * m + (1 - BETA1) * g)
                v_t = v.assign(BETA2 * v + (1 - BETA2) * tf.square(g))
                updates.append(w.assign_sub(lr_t * m_t / (tf.sqrt(v_t) + EPSILON)))
        return tf.group(*updates)

    def _closed_form(self, tf, w, g, parts=None):
        """``w -= lr * g / (|g| + eps)``, the embeddings one block of rows after another.

        The embeddings' gradient is ``AddN(dense, UnsortedSegmentSum(rows, tokens, n_vocab))``:
        the output layer's dense gradient (a tensor of the embeddings' size, 307 MB for 1558M)
        plus the input lookup's rows spread over a second one, the sum a third, and the update's
        temporaries more. With ``parts`` (dense, rows, tokens; ``dense(start, stop)`` gives rows
        start:stop of the dense gradient), each block of the vocabulary computes its own rows of
        the dense gradient, sums its own tokens' rows (in the same order) and adds the two: every
        element is ``dense + rows`` once and then the same update, so the same bits, with a
        block's temporaries instead of whole tensors."""
        eps = EPSILON / (1 - BETA2) ** 0.5
        if parts is None:
            if self.kernel is not None:
                return getattr(self.kernel, kernels.UPDATE)(_ref(w), g, self.lr, epsilon=eps)
            return w.assign_sub(self.lr * (g / (tf.abs(g) + eps)))
        dense, rows, tokens = parts
        n, step = int(w.shape[0]), max(1, UPDATE_BLOCK_BYTES // (4 * int(w.shape[1])))
        last = None
        for start in range(0, n, step):
            stop = min(start + step, n)
            with tf.control_dependencies([last] if last is not None else []):
                ids = tf.where((tokens >= start) & (tokens < stop), tokens - start, -tf.ones_like(tokens))  # -1: not this block's
                block = tf.math.add_n([dense(start, stop), tf.math.unsorted_segment_sum(rows, ids, stop - start)])
                if self.kernel is not None:
                    last = getattr(self.kernel, kernels.UPDATE)(_ref(w), block, self.lr, epsilon=eps, first_row=start)
                else:
                    last = tf.compat.v1.scatter_sub(w, tf.range(start, stop), self.lr * (block / (tf.abs(block) + eps))).op
        return last


def _ref(weight):
    """A reference variable's own tensor (its buffer, which a compiled op updates in place)."""
    return weight.op.outputs[0]


UPDATE_BLOCK_BYTES = 4 << 20


def gradients(tf, loss, weights, output=None, blocks=None) -> tuple[list, list]:
    """Every weight's gradient of ``loss``, and for the embeddings (tied: looked up, and the
    output layer ``output``) the parts the one-step update sums block by block
    (``Adam._closed_form``); the other weights' parts are None.

    ``tf.gradients`` of ``output`` computes the embeddings' dense gradient whole, and its
    gating (``gate_gradients``, as AdamOptimizer takes them) makes the rest of the backward
    pass wait for it: a tensor of the embeddings' size, alive at the step's peak. So the
    gradient is taken in two parts. First the logits' gradient; from it the output layer's
    gradient for ``h``, with the same MatMul that TensorFlow's own MatMul gradient builds,
    goes on into the blocks as ``grad_ys``. The embeddings' dense part is built as that
    gradient builds it (``dense_rows``), whole only for those who fetch ``grads`` (a window
    step's sums, the tests); the update asks for one block of rows at a time. The same
    operations on the same values: the same bits. With ``blocks`` (``forward.Blocks``), the
    part from h down goes one block at a time, each block's forward pass run again for its
    gradient (``recompute.py``): the same bits again, with one block's activations alive
    instead of every block's."""
    gate = {"gate_gradients": True}  # as AdamOptimizer.compute_gradients (GATE_OP) takes them
    tied = None if output is None else next((i for i, w in enumerate(weights) if _reads(output.inputs[1], w)), None)
    if tied is None:
        return [tf.convert_to_tensor(g) for g in tf.gradients(ys=loss, xs=weights, **gate)], [None] * len(weights)
    if output.type != "MatMul" or output.get_attr("transpose_a") or not output.get_attr("transpose_b"):
        raise ValueError(f"{output.name}: the output layer is MatMul(h, wte, transpose_b=True)")
    h, embeddings = output.inputs
    if [op.name for op in h.consumers()] != [output.name]:
        raise ValueError(f"{h.name} feeds more than the output layer: its gradient would not all come through {output.name}")
    logits_grad = tf.gradients(ys=loss, xs=[output.outputs[0]], **gate)[0]
    h_grad = tf.raw_ops.MatMul(a=logits_grad, b=embeddings, grad_a=True)  # TensorFlow's MatMul gradient for h
    if blocks is None:
        grads = tf.gradients(ys=h, xs=weights, grad_ys=h_grad, **gate)
    else:
        grads = recompute.gradients(tf, blocks, h, h_grad, weights, gate)
    grads = [tf.convert_to_tensor(g) for g in grads]
    lookup = grads[tied]
    if lookup.op.type != "UnsortedSegmentSum":
        raise ValueError(f"{weights[tied].op.name}: its gradient through the lookup is {lookup.op.type}, not UnsortedSegmentSum")

    def dense_rows(start=None, stop=None):
        """Rows start:stop of the output layer's gradient for the embeddings (all of them by default)."""
        part = logits_grad if start is None else logits_grad[:, start:stop]
        return tf.raw_ops.MatMul(a=part, b=h, transpose_a=True, grad_b=True)

    parts: list = [None] * len(weights)
    parts[tied] = (dense_rows, lookup.op.inputs[0], lookup.op.inputs[1])
    grads[tied] = tf.math.add_n([dense_rows(), lookup])
    return grads, parts


def _reads(tensor, weight) -> bool:
    """``tensor`` is ``weight`` itself or a view of its buffer (``read``, a reshape)."""
    target = weight if hasattr(weight, "consumers") else weight.op.outputs[0]
    while tensor is not target:
        if tensor.op.type not in _VIEWS or not tensor.op.inputs:
            return False
        tensor = tensor.op.inputs[0]
    return True


# Ops whose output can be the input's own buffer: a weight read through them is still the weight.
_VIEWS = frozenset({"Identity", "RefIdentity", "IdentityN", "Snapshot", "StopGradient", "PreventGradient", "EnsureShape",
                    "CheckNumerics", "Reshape", "ExpandDims", "Squeeze", "Slice", "StridedSlice", "Split", "SplitV", "Unpack",
                    "Bitcast", "Cast", "Transpose", "BroadcastTo", "AddN"})  # (some of these copy unless they change nothing)
_WRITES = frozenset({"Assign", "AssignSub", "AssignAdd"})


def readers_in_step(loss, grads, weights) -> list[list]:
    """For each weight, every op of the step (what computing ``loss`` and ``grads`` runs) that
    reads it: its consumers and those of the views sharing its buffer."""
    step: set = set()
    todo = [t.op for t in [loss, *grads]]
    while todo:
        op = todo.pop()
        if op in step:
            continue
        step.add(op)
        todo.extend(t.op for t in op.inputs)
        todo.extend(op.control_inputs)
    out = []
    for w in weights:
        tensors, seen, found = [w if hasattr(w, "consumers") else w.op.outputs[0]], set(), []
        while tensors:
            t = tensors.pop()
            for op in t.consumers():
                if op in seen or op.type in _WRITES or op not in step:
                    continue
                seen.add(op)
                found.append(op)
                if op.type in _VIEWS:
                    tensors.extend(op.outputs)
        out.append(sorted(found, key=lambda op: op.name))
    return out
