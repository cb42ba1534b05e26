"""Adam, written out, as tf.compat.v1.train.AdamOptimizer computes it, with no race.

From a fresh optimizer (m = v = 0, t = 1) one Adam step moves each weight by
lr·√(1-β2)/(1-β1) · m/(√v + ε) with m = (1-β1)g and v = (1-β2)g², that is
lr·g/(|g| + ε/√(1-β2)): no slot variables are needed, and three elementwise
ops per weight keep the temporaries small. Slots are built only when a run
asks for more than one step.

Two ways to get the gradient:

* ``step``: one run computes every gradient of the passage's loss, then
  updates. Every update waits for *all* gradients (and the loss): the weights
  are reference variables, so an update that ran while another gradient was
  still reading the weights would make the result depend on thread timing.
  (TF's own ``minimize()`` gates its updates for the same reason.)
* ``accumulate`` / ``apply``: gpt-2-simple's AccumulatingOptimizer. Each
  window's gradient is added into a sum in its own run; one more run applies
  Adam to the sum. Gradients and updates never share a run.
"""

from __future__ import annotations

from . import graph_cache

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8  # tf.compat.v1.train.AdamOptimizer's defaults


class Adam(graph_cache.Kept):
    def __init__(self, tf, loss, weights, *, max_steps: int = 1, accumulate: bool = False):
        v1 = tf.compat.v1
        self.lr = v1.placeholder(tf.float32, [], name="learning_rate")
        self.t = v1.placeholder(tf.float32, [], name="adam_step")
        self.weights = weights
        # gate_gradients: as AdamOptimizer.compute_gradients (GATE_OP) takes them, so the sums agree with gpt-2-simple bit for bit
        self.grads = [tf.convert_to_tensor(g) for g in tf.gradients(ys=loss, xs=weights, gate_gradients=True)]
        self.slots: list = []
        if max_steps > 1:
            with v1.variable_scope("adam"):
                for w in weights:
                    m = v1.get_variable(w.op.name + "/m", w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False)
                    v = v1.get_variable(w.op.name + "/v", w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False)
                    self.slots.append((m, v))
        with tf.control_dependencies([loss, *self.grads]):  # no weight moves before every gradient exists
            self.step = self._updates(tf, self.grads)
        self.accumulate = self.apply = self.reset_sums = None
        if accumulate:
            with v1.variable_scope("accumulated"):
                sums = [v1.get_variable(w.op.name, w.shape, w.dtype, initializer=v1.zeros_initializer(), trainable=False) for w in weights]
            self.reset_sums = tf.group(*[s.assign(tf.zeros_like(s)) for s in sums])
            self.accumulate = tf.group(*[s.assign_add(g) for s, g in zip(sums, self.grads)])
            self.apply = self._updates(tf, sums)
        self.reset_slots = tf.group(*[s.assign(tf.zeros_like(s)) for pair in self.slots for s in pair])

    HANDLES = ("lr", "t", "grads", "step", "reset_slots", "accumulate", "apply", "reset_sums")

    def _updates(self, tf, grads):
        if not self.slots:
            eps = EPSILON / (1 - BETA2) ** 0.5
            return tf.group(*[w.assign_sub(self.lr * (g / (tf.abs(g) + eps))) for w, g in zip(self.weights, grads)])
        lr_t = self.lr * tf.sqrt(1 - BETA2**self.t) / (1 - BETA1**self.t)
        updates = []
        for w, g, (m, v) in zip(self.weights, grads, self.slots):
            m_t = m.assign(BETA1 * m + (1 - BETA1) * g)
            v_t = v.assign(BETA2 * v + (1 - BETA2) * tf.square(g))
            updates.append(w.assign_sub(lr_t * m_t / (tf.sqrt(v_t) + EPSILON)))
        return tf.group(*updates)
