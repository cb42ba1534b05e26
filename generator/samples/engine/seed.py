"""Recipe `seed`: the artist's notebook method, faithfully, through gpt-2-simple's public API.

Per passage: a dataset of the passage repeated until it fills gpt-2-simple's
hard-coded 1024-token training window, ``finetune(steps=1,
restore_from='fresh')`` with the library's other defaults (Adam, five
accumulated gradients), ``generate(prefix=passage, ...)``; then the session
is reset and the run's checkpoint deleted, so a whole essay runs in one
process and leaves nothing on disk. It exists to compare against and to
reproduce the original piece; `fast` is the default.
"""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..cache import Params
from ...platform import schedulable_cpus, this_machine
from .checkpoint import Hparams
from .common import SEED_CONTEXT, VERSIONS, Generation, check_fits, context_for
from .tf import load
from .windows import dataset_text


class _Quiet(contextlib.ExitStack):
    """gpt-2-simple prints its progress: keep it off the terminal."""

    def __enter__(self):
        super().__enter__()
        sink = io.StringIO()
        self.enter_context(contextlib.redirect_stdout(sink))
        self.enter_context(contextlib.redirect_stderr(sink))
        return self


class SeedEngine:
    recipe = "seed"
    version = VERSIONS["seed"]
    origin = None  # set by ``factory.open_engine`` from the folder's record
    on_stage = None  # called with "finetuning", then "sampling", as ``generate`` goes on (the station's page shows them)

    def __init__(self, folder: Path):
        self.tf, self.gpt2 = load()
        from gpt_2_simple.src import encoder

        self.folder = folder
        self.hparams = Hparams.read(folder)
        self.encoder = encoder.get_encoder(str(folder))
        self.sess = self.gpt2.start_tf_sess()  # the library's own thread layout: TensorFlow's default, the CPUs it may use
        self.platform = this_machine(schedulable_cpus())
        self.bytes_written = 0
        self._work: Path | None = None
        self._source: dict = {}

    def encode(self, text: str) -> list[int]:
        return self.encoder.encode(text)

    def check_fits(self, prompt_tokens: int, length: int) -> None:
        check_fits(prompt_tokens, length, context_for(self.recipe, self.hparams.n_ctx))

    def dataset(self, prompt: str) -> str:
        return dataset_text(prompt, self.encode)

    def _forget(self) -> None:
        """Delete the last fine-tune's checkpoint (counting what it wrote)."""
        if self._work is not None:
            self.bytes_written += sum(p.stat().st_size for p in self._work.rglob("*") if p.is_file())
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None

    def _fresh_session(self, params: Params | None) -> None:
        self._forget()
        self.sess = self.gpt2.reset_session(self.sess)
        if params is not None:
            random.seed(params.seed)
            np.random.seed(params.seed)
            self.tf.compat.v1.set_random_seed(params.seed)

    def reset(self, params: Params | None = None) -> None:
        """The base model, freshly loaded (in a session seeded by ``params``, when given)."""
        self._fresh_session(params)
        with _Quiet():
            self.gpt2.load_gpt2(self.sess, model_name=self.folder.name, model_dir=str(self.folder.parent))
        self._source = {"model_name": self.folder.name, "model_dir": str(self.folder.parent)}

    def finetune(self, prompt: str, params: Params) -> None:
        """``finetune(steps, restore_from='fresh')`` on the pasted passage, seeded by the run's seed."""
        self._fresh_session(params)
        self._work = work = Path(tempfile.mkdtemp(prefix="vsr-seed-"))
        data = work / "passage.txt"
        data.write_text(self.dataset(prompt), "utf-8")
        with _Quiet():
            self.gpt2.finetune(
                self.sess,
                dataset=str(data),
                steps=params.finetune_steps,
                model_name=self.folder.name,
                model_dir=str(self.folder.parent),
                restore_from="fresh",
                run_name="passage",
                checkpoint_dir=str(work / "checkpoint"),
                learning_rate=params.learning_rate,
                sample_length=min(SEED_CONTEXT, self.hparams.n_ctx - 1),
            )
        self._source = {"run_name": "passage", "checkpoint_dir": str(work / "checkpoint")}

    def sample(self, prompt: str, params: Params, nsamples: int) -> list[str]:
        """``generate(prefix=passage, ...)`` with the weights as they are now."""
        with _Quiet():
            texts = self.gpt2.generate(
                self.sess,
                **self._source,
                prefix=prompt,
                seed=params.seed,
                nsamples=nsamples,
                length=params.length,
                temperature=params.temperature,
                top_k=params.top_k,
                return_as_list=True,
            )
        return [(t[len(prompt) :] if t.startswith(prompt) else t).split("<|endoftext|>")[0] for t in texts]

    def generate(self, prompt: str, params: Params, nsamples: int) -> Generation:
        self.check_fits(len(self.encode(prompt)), params.length)
        start = time.perf_counter()
        try:
            if self.on_stage:
                self.on_stage("finetuning")
            if params.finetune_steps:
                self.finetune(prompt, params)
            else:
                self.reset(params)
            tuned = time.perf_counter()
            if self.on_stage:
                self.on_stage("sampling")
            continuations = self.sample(prompt, params, nsamples)
        finally:
            self._forget()
        return Generation(continuations, tuned - start, time.perf_counter() - tuned)

    def close(self) -> None:
        self._forget()
        self.sess.close()
