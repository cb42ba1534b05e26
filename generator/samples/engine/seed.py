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
from .checkpoint import Hparams
from .common import Generation, PromptTooLong
from .tf import load

WINDOW = 1024  # gpt-2-simple's finetune() samples 1024-token windows, always


class SeedEngine:
    recipe = "seed"

    def __init__(self, folder: Path):
        self.tf, self.gpt2 = load()
        from gpt_2_simple.src import encoder

        self.folder = folder
        self.hparams = Hparams.read(folder)
        self.encoder = encoder.get_encoder(str(folder))
        self.sess = self.gpt2.start_tf_sess()
        self.bytes_written = 0

    def encode(self, text: str) -> list[int]:
        return self.encoder.encode(text)

    def check_fits(self, prompt_tokens: int, length: int) -> None:
        if prompt_tokens < 2 or prompt_tokens + length > min(self.hparams.n_ctx, WINDOW - 1):
            raise PromptTooLong(prompt_tokens, length, min(self.hparams.n_ctx, WINDOW - 1))

    def dataset(self, prompt: str) -> str:
        """The passage pasted until it fills the 1024-token window (and one more,
        since the library's sampler needs strictly more tokens than it takes)."""
        copies = [prompt]
        while len(self.encode("\n".join(copies))) <= WINDOW + 1:
            copies.append(prompt)
        return "\n".join(copies) + "\n"

    def generate(self, prompt: str, params: Params, nsamples: int) -> Generation:
        tf, gpt2 = self.tf, self.gpt2
        self.check_fits(len(self.encode(prompt)), params.length)
        work = Path(tempfile.mkdtemp(prefix="vsr-seed-"))
        try:
            data = work / "passage.txt"
            data.write_text(self.dataset(prompt), "utf-8")
            self.sess = gpt2.reset_session(self.sess)
            random.seed(params.seed)
            np.random.seed(params.seed)
            tf.compat.v1.set_random_seed(params.seed)
            start = time.perf_counter()
            quiet = io.StringIO()
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                if params.finetune_steps:
                    gpt2.finetune(
                        self.sess,
                        dataset=str(data),
                        steps=params.finetune_steps,
                        model_name=self.folder.name,
                        model_dir=str(self.folder.parent),
                        restore_from="fresh",
                        run_name="passage",
                        checkpoint_dir=str(work / "checkpoint"),
                        learning_rate=params.learning_rate,
                        sample_length=min(1023, self.hparams.n_ctx - 1),
                    )
                    source = {"run_name": "passage", "checkpoint_dir": str(work / "checkpoint")}
                else:
                    gpt2.load_gpt2(self.sess, model_name=self.folder.name, model_dir=str(self.folder.parent))
                    source = {"model_name": self.folder.name, "model_dir": str(self.folder.parent)}
                tuned = time.perf_counter()
                texts = gpt2.generate(
                    self.sess,
                    **source,
                    prefix=prompt,
                    seed=params.seed,
                    nsamples=nsamples,
                    length=params.length,
                    temperature=params.temperature,
                    top_k=params.top_k,
                    return_as_list=True,
                )
            done = time.perf_counter()
            self.bytes_written += sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
        finally:
            shutil.rmtree(work, ignore_errors=True)
        continuations = [(t[len(prompt) :] if t.startswith(prompt) else t).split("<|endoftext|>")[0] for t in texts]
        return Generation(continuations, tuned - start, done - tuned)

    def close(self) -> None:
        self.sess.close()
