"""Recipe `fast`: one graph, one session, the whole run; nothing written to disk but the
graph itself, once, where ``graph_cache`` keeps it for the next run.

Per passage: restore the base weights from the checkpoint (a second copy in
memory would cost as much again: 500 MB for 124M), straight into the buffers
the variables hold (``restore_in_place``, with the compiled kernels), or one
weight at a time so that only one weight's worth is ever read ahead
(``restore_chain``, without them), fine-tune
(``adam.py``; its backward pass one block at a time, ``recompute.py``), draw
every sample in one batch (``sampler.py``). The graph is
built once and finalized, so it cannot grow from passage to passage.

What it trains on is ``train_on``:

* ``passage`` (the default): the passage's own tokens, once per step.
* ``window``: exactly what gpt-2-simple's ``finetune(steps=1)`` trains on
  (``windows.py``): five 1024-token windows of the passage pasted end to end,
  drawn with Python's ``random`` seeded by the run's seed, gradients summed,
  one Adam step. Only an engine built with ``window=True`` can do it.
"""

from __future__ import annotations

import logging
import random
import time
import zlib
from pathlib import Path

import numpy as np

from ..cache import Params
from . import forward, graph_cache, kernels, windows
from .adam import Adam
from ...platform import engine_threads, this_machine
from .checkpoint import Hparams, checkpoint_prefix
from .common import VERSIONS, WITHOUT_KERNEL, Generation, check_fits, context_for
from .sampler import SamplerGraph
from .tf import load

log = logging.getLogger(__name__)


def session_config(tf, threads: int, *, pruned: bool = True):
    """A fixed thread layout: oneDNN's reductions are deterministic for a given thread count.

    ``pruned`` (``place_pruned_graph``): each fetch (the fine-tune step, the sampler, the
    restore) places only the nodes it runs, not the whole 16,000-node graph. The same kernels
    run on the same device, so the samples are the same bytes; the first fine-tune of a
    process took 5.9 s without it and 1.6 s with it (124M's shape, 2 cores). An engine that
    trains on 1024-token windows goes without: there it raised the peak RSS from 6.3 GB to
    7.9 GB, to save a second on a fine-tune of forty."""
    config = tf.compat.v1.ConfigProto()
    config.intra_op_parallelism_threads = threads
    config.inter_op_parallelism_threads = 1
    config.graph_options.place_pruned_graph = pruned
    return config


def restore_in_place(tf, weights, prefix, kernel):
    """One op that reads every weight from the checkpoint at ``prefix`` into the buffer its
    variable already holds (``step_kernels.cc``'s VsrRestore): nothing read ahead, no buffer
    given back and taken anew, the checksums checked on the first read of unchanged files.
    ``restore_chain`` does it with TensorFlow's own operations."""
    refs = [w.op.outputs[0] for w in weights]
    restore = getattr(kernel, kernels.RESTORE)(refs, prefix, names=[w.op.name for w in weights], shapes=[r.shape for r in refs])
    with tf.control_dependencies([restore]):
        return tf.no_op(name="restore_weights")


def restore_chain(tf, weights, prefix):
    """One op that reads every weight from the checkpoint at ``prefix`` into its variable, one
    after another, with nothing read ahead of the variables: ``Saver.restore`` reads every
    tensor in one go, a second model beside the first.

    A variable already holding a value copies what is read into its buffer, so the read (the
    embeddings: 307 MB for 1558M) would sit beside it. So each variable first lets go of its
    buffer (it is given an empty value), and then takes over the buffer the read filled:
    TensorFlow's ``Assign`` adopts its input's memory when the shapes differ and nothing else
    holds it. Each read waits for the assignment before it. The same bytes land in the
    variables; a tensor of the wrong shape in the checkpoint stops the restore
    (``ensure_shape``)."""
    from tensorflow.core.framework import attr_value_pb2

    last = None
    for w in weights:
        name = w.op.name
        with tf.control_dependencies([last] if last is not None else []):
            released = tf.compat.v1.assign(w, tf.zeros([0], w.dtype.base_dtype), validate_shape=False, name=f"release/{name}")
        with tf.control_dependencies([released.op]):
            value = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[name], shape_and_slices=[""], dtypes=[w.dtype.base_dtype])[0]
            value = tf.ensure_shape(value, w.shape)
            last = tf.compat.v1.assign(w, value, validate_shape=False, name=f"restore/{name}").op
            # Assign adopts its input's memory only if the input's allocation is as loosely
            # constrained as its own; on its own it asks for memory fit for a GPU or a network
            # card. This attribute (what TensorFlow's graph optimizer sets where it knows the
            # variable stays on this device) has it ask for plain memory, as the read's is.
            last._set_attr("_grappler_relax_allocator_constraints", attr_value_pb2.AttrValue(b=True))
    with tf.control_dependencies([last]):
        return tf.no_op(name="restore_weights")


def stream_seed(params: Params, prompt: str) -> list[int]:
    """The stateless sampler's seed: the run's seed and the prompt, so a passage's
    samples do not depend on which passages ran before it."""
    return [params.seed, zlib.crc32(prompt.encode("utf-8")) & 0x7FFFFFFF]


class FastEngine:
    recipe = "fast"
    version = VERSIONS["fast"]  # WITHOUT_KERNEL for an engine without its compiled kernels (``kernels.load``)
    origin = None  # set by ``factory.open_engine`` from the folder's record
    on_stage = None  # called with "finetuning", then "sampling", as ``generate`` goes on (the station's page shows them)

    def __init__(self, folder: Path, *, max_finetune_steps: int = 1, window: bool = False, early_stop: bool = True,
                 kernel: bool = True):
        """``kernel`` False: the sampling step as TensorFlow operations (engine version 3) even
        where the compiled kernels load (``kernels.load``); for comparisons (``bench/kernels.py``)."""
        tf, _ = load()
        from gpt_2_simple.src import encoder, model

        self.tf = tf
        self.hparams = Hparams.read(folder)
        self.encoder = encoder.get_encoder(str(folder))
        self.end_of_text = self.encoder.encoder.get(windows.END_OF_TEXT)
        self.max_finetune_steps = max_finetune_steps
        self.can_window = window
        hp = model.default_hparams()
        hp.override_from_dict(self.hparams.as_dict())
        v1 = tf.compat.v1
        self.kernel = kernels.load(tf) if kernel else None  # before a kept graph is read: it may hold the kernels' ops
        self.version = VERSIONS["fast"] if self.kernel is not None else WITHOUT_KERNEL
        shape = {"hparams": self.hparams.as_dict(), "max_finetune_steps": max_finetune_steps, "window": window,
                 "end_of_text": self.end_of_text if early_stop else None, "kernel": self.kernel is not None}
        name = graph_cache.key(tf, model, shape)
        kept = graph_cache.read(tf, name)
        init = None
        if kept:
            try:
                init = self._import(*kept)
            except Exception as err:  # noqa: BLE001 - a graph that does not import is built again
                log.warning("the kept graph %s did not import (%s); building it again", name, err)
        self.graph_source = "kept" if init is not None else "built"  # read back, or built in Python (and kept)
        if init is None:
            init = self._build(hp, model, early_stop)
            graph_cache.write(name, self.graph, self._handles(init))
        self.graph.finalize()
        threads = engine_threads()
        self.platform = this_machine(threads)
        self.sess = v1.Session(graph=self.graph, config=session_config(tf, threads, pruned=not window))
        self.sess.run(init)
        self.checkpoint = str(checkpoint_prefix(folder))  # the files the fingerprint hashed
        self.split: dict[str, float] = {}  # the last generate()'s seconds, by part
        self._restore_base()

    def _build(self, hp, model, early_stop: bool):
        """The graph, built in Python; returns the op that initialises the engine's own variables."""
        tf = self.tf
        v1 = tf.compat.v1
        self.graph = tf.Graph()
        # Reference variables, not resource ones: a resource variable that has
        # been gathered from (the embeddings) switches to copy-on-read, and
        # every step's logits would copy all of wte (154 MB for 124M) first.
        with self.graph.as_default(), v1.variable_scope(v1.get_variable_scope(), use_resource=False):
            self.tokens = v1.placeholder(tf.int32, [1, None], name="passage")
            self.loss, output = forward.training_loss(tf, model, hp, self.tokens)
            self.weights = [v for v in v1.trainable_variables() if v.name.startswith("model/")]
            self.adam = Adam(tf, self.loss, self.weights, max_steps=self.max_finetune_steps, accumulate=self.can_window, output=output,
                             blocks=forward.Blocks(tf, model, hp), kernel=self.kernel)
            self.sampler = SamplerGraph(tf, model, hp, self.end_of_text if early_stop else None, self.kernel)
            self.checkpoint_path = v1.placeholder(tf.string, [], name="checkpoint")
            self.restore = (restore_chain(tf, self.weights, self.checkpoint_path) if self.kernel is None
                            else restore_in_place(tf, self.weights, self.checkpoint_path, self.kernel))
            # The weights come from the checkpoint: initialise only our own
            # variables, never 500 MB of random numbers the restore overwrites.
            return v1.variables_initializer([v for v in v1.global_variables() if v not in self.weights])

    def _handles(self, init) -> dict:
        return {"tokens": self.tokens.name, "loss": self.loss.name, "weights": [w.name for w in self.weights],
                "init": init.name, "adam": self.adam.handles(), "sampler": self.sampler.handles(),
                "checkpoint": self.checkpoint_path.name, "restore": self.restore.name}

    def _import(self, graph_def, handles: dict):
        """The graph as ``graph_cache`` kept it; returns the initialising op. What the engine
        runs is there; the Python side is thinner than a built one's: ``weights`` are the
        variables' tensors, not ``tf.Variable`` objects, and the graph's variable collections
        are empty."""
        tf = self.tf
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
            self.tokens, self.loss, self.weights, init, self.checkpoint_path, self.restore = (
                graph_cache.resolve(self.graph, handles[k]) for k in ("tokens", "loss", "weights", "init", "checkpoint", "restore"))
            self.adam = Adam.from_graph(self.graph, handles["adam"])
            self.sampler = SamplerGraph.from_graph(self.graph, handles["sampler"])
        return init

    def _restore_base(self) -> None:
        """The checkpoint's weights, bit for bit, and fresh Adam slots."""
        start = time.perf_counter()
        self._tuned = True  # until the restore is through: one that fails halfway leaves weights half-written or empty, to restore again
        self.sess.run(self.restore, {self.checkpoint_path: self.checkpoint})
        self.sess.run(self.adam.reset_slots)
        self._tuned = False  # the weights are the base model's
        self.split["restore"] = self.split.get("restore", 0.0) + time.perf_counter() - start

    def encode(self, text: str) -> list[int]:
        return self.encoder.encode(text)

    def check_fits(self, prompt_tokens: int, length: int) -> None:
        check_fits(prompt_tokens, length, context_for(self.recipe, self.hparams.n_ctx))

    def reset(self) -> None:
        """Back to the base weights."""
        if self._tuned:  # nothing to undo after a reset
            self._restore_base()

    def finetune(self, prompt: str, params: Params, tokens: list[int] | None = None) -> None:
        """Fresh base weights, then ``params.finetune_steps`` Adam steps on what ``params.train_on`` names."""
        if params.finetune_steps > self.max_finetune_steps:
            raise ValueError(f"engine built for at most {self.max_finetune_steps} fine-tune steps")
        self._restore_base()  # always: whatever ran on this session before, the step starts from the checkpoint
        self._tuned = True
        if params.train_on == "window":
            self._finetune_windows(prompt, params)
        else:
            batch = [tokens if tokens is not None else self.encode(prompt)]
            for t in range(1, params.finetune_steps + 1):
                self.sess.run(self.adam.step, {self.tokens: batch, self.adam.lr: params.learning_rate, self.adam.t: float(t)})

    def _finetune_windows(self, prompt: str, params: Params) -> None:
        if not self.can_window:
            raise ValueError("this engine was built without window training (FastEngine(..., window=True))")
        if self.hparams.n_ctx < windows.WINDOW:
            raise ValueError(f"train_on = window needs a model whose context holds {windows.WINDOW} tokens (this one: {self.hparams.n_ctx})")
        data = windows.dataset_tokens(prompt, self.encode)
        rng = random.Random(params.seed)  # what random.seed(seed) gives gpt-2-simple's Sampler
        for t in range(1, params.finetune_steps + 1):
            self.sess.run(self.adam.reset_sums)
            for window in windows.windows(data, rng):
                self.sess.run(self.adam.accumulate, {self.tokens: [window]})
            self.sess.run(self.adam.apply, {self.adam.lr: params.learning_rate, self.adam.t: float(t)})

    def sample(self, prompt: str, params: Params, nsamples: int, tokens: list[int] | None = None) -> list[str]:
        """Continuations of ``prompt`` with the weights as they are now, cut at <|endoftext|>."""
        return [self.decode(row) for row in self.sample_tokens(prompt, params, nsamples, tokens)]

    def sample_tokens(self, prompt: str, params: Params, nsamples: int, tokens: list[int] | None = None) -> np.ndarray:
        """The raw generated tokens, [nsamples, steps]: ``length`` steps, or fewer when every
        row wrote <|endoftext|> sooner (what follows it is cut by ``decode`` anyway)."""
        if tokens is None:
            tokens = self.encode(prompt)
            self.check_fits(len(tokens), params.length)
        feed = self.sampler.feed(tokens, nsamples, params.temperature, params.top_k, params.length, stream_seed(params, prompt))
        return self.sess.run(self.sampler.generated, feed)

    def decode(self, row) -> str:
        row = list(np.asarray(row))
        if self.end_of_text in row:
            row = row[: row.index(self.end_of_text)]
        return self.encoder.decode(row)

    def generate(self, prompt: str, params: Params, nsamples: int) -> Generation:
        """Fine-tune (or reset), then sample. ``split`` then holds where the passage's time went:
        restoring the base weights, the fine-tune step itself, sampling and decoding."""
        tokens = self.encode(prompt)
        self.check_fits(len(tokens), params.length)
        self.split = {}
        start = time.perf_counter()
        if self.on_stage:
            self.on_stage("finetuning")
        if params.finetune_steps:
            self.finetune(prompt, params, tokens)
        else:
            self.reset()
        tuned = time.perf_counter()
        if self.on_stage:
            self.on_stage("sampling")
        rows = self.sample_tokens(prompt, params, nsamples, tokens)
        sampled = time.perf_counter()
        continuations = [self.decode(row) for row in rows]
        end = time.perf_counter()
        self.split.update(finetune=tuned - start - self.split.get("restore", 0.0), sample=sampled - tuned, decode=end - sampled)
        self.split.setdefault("restore", 0.0)
        return Generation(continuations, tuned - start, end - tuned)

    def close(self) -> None:
        self.sess.close()
