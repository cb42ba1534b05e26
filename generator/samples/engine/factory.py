"""Opening a model: the recipe's engine (which imports TensorFlow), or a view of the model that
deciding the work needs (its tokenizer and context, read without TensorFlow)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ..request import Request
from .common import Engine, check_fits, context_for


@dataclass(frozen=True)
class ModelView:
    """What deciding the work needs of a model, without loading it (or TensorFlow):
    its recipe, its tokenizer and how many tokens its context holds."""

    recipe: str
    encode: Callable[[str], list[int]]
    context: int

    def check_fits(self, prompt_tokens: int, length: int) -> None:
        check_fits(prompt_tokens, length, self.context)


def top_k_problem(top_k: int, n_vocab: int) -> str | None:
    """Why ``top_k`` cannot be asked of a model with ``n_vocab`` tokens (TensorFlow's
    top_k would fail deep inside the sampler), or None."""
    return f"{top_k} is more than the model's {n_vocab} tokens (0 means no limit)" if top_k > n_vocab else None


def model_view(folder: Path, request: Request) -> ModelView:
    """The model's tokenizer and context, read from its folder without TensorFlow."""
    from .checkpoint import Hparams
    from .encoding import get_encoder
    from .windows import WINDOW

    hp = Hparams.read(folder)
    problem = top_k_problem(request.params.top_k, hp.n_vocab)
    if problem:
        raise InputError(folder / "hparams.json", f"top_k {problem}")
    if request.params.train_on == "window" and hp.n_ctx < WINDOW:
        raise InputError(folder / "hparams.json", f"train_on = window trains on {WINDOW}-token windows; this model's context holds {hp.n_ctx}")
    return ModelView(request.recipe, get_encoder(folder).encode, context_for(request.recipe, hp.n_ctx))


def open_engine(folder: Path, recipe: str, *, max_finetune_steps: int = 1, window: bool = False, samples: int = 10, length: int = 100) -> Engine:
    """Load the model into the recipe's engine (this imports TensorFlow), once ``footprint``
    finds the memory for it (``samples`` x ``length``: the largest batch it will draw)."""
    from ..origin import of_folder
    from .footprint import check

    check(folder, recipe, window=window, max_finetune_steps=max_finetune_steps, samples=samples, length=length)
    if recipe == "seed":
        from .seed import SeedEngine

        engine: Engine = SeedEngine(folder)
    else:
        from .fast import FastEngine

        engine = FastEngine(folder, max_finetune_steps=max(1, max_finetune_steps), window=window)
    engine.origin = of_folder(folder)  # what every run it makes records of where its weights came from
    return engine


def model_at(models_dir: Path, name: str) -> tuple[Path, str]:
    """The model's folder, checked (an InputError says what is missing and how to get it), and
    its fingerprint: what generate, explore and the engine worker each open a model with."""
    from .checkpoint import check_model, fingerprint

    folder = check_model(models_dir, name)
    return folder, fingerprint(folder)


@contextlib.contextmanager
def opened(folder: Path, recipe: str, **kw) -> Iterator[Engine]:
    """``open_engine``, closed again on the way out."""
    engine = open_engine(folder, recipe, **kw)
    try:
        yield engine
    finally:
        engine.close()
