"""A run's request: the model, recipe, sample count and parameters, from site.toml and the command line."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..config import SiteConfig
from ..errors import InputError
from .cache import Params


@dataclass(frozen=True)
class Request:
    model: str
    models_dir: Path
    recipe: str
    samples: int
    params: Params
    force: bool = False
    escalate: bool = True


def request_from(config: SiteConfig, models_dir: Path, **overrides) -> Request:
    """The run's request: site.toml's [generation], overridden by whatever the command line gave.
    The seed recipe is gpt-2-simple's own finetune(), so it always trains on the windows."""
    from ..config import generation_problem

    given = {k: v for k, v in overrides.items() if v is not None}
    problem = generation_problem(given)
    if problem:
        raise InputError(None, f"--{problem[0].replace('_', '-')} {problem[1]}")
    values = {**dataclasses.asdict(config.generation), **given}
    if values["recipe"] == "seed":
        if given.get("train_on") == "passage":
            raise InputError(None, "--train-on passage: the seed recipe is gpt-2-simple's own finetune(), which trains on the 1024-token windows")
        values["train_on"] = "window"
    params = Params(**{f.name: values[f.name] for f in dataclasses.fields(Params)})
    return Request(
        model=values["model"],
        models_dir=models_dir,
        recipe=values["recipe"],
        samples=values["samples"],
        params=params,
        force=bool(values.get("force", False)),
    )
