"""content/site.toml -> SiteConfig.

Every key is known here; an unknown one is an error naming the key and its
line, because a typo in a config file should never be silently ignored.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from urllib.parse import urlsplit
from pathlib import Path
from typing import Any

from .errors import InputError


@dataclass(frozen=True)
class GenerationDefaults:
    """The seed's hand-found parameters, overridable in [generation]."""

    model: str = "124M"
    recipe: str = "fast"
    samples: int = 10
    temperature: float = 0.8
    top_k: int = 30
    length: int = 100
    seed: int = 2019
    finetune_steps: int = 1
    learning_rate: float = 1e-4
    train_on: str = "passage"  # or "window": exactly gpt-2-simple's finetune() data


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Verbosified Space Rovers"
    subtitle: str = ""
    author: str = ""
    statement: str = ""
    base_url: str = ""
    cname: str = ""
    language: str = "en"
    passage_size: int = 3
    sentence_splitter: str = "builtin"
    gifs: bool = True
    explore: list = field(default_factory=list)  # "essay-slug:N" passages for the technical exploration
    generation: GenerationDefaults = field(default_factory=GenerationDefaults)

    @property
    def absolute_base(self) -> str:
        """base_url with exactly one trailing slash, or '' when unset."""
        return self.base_url.rstrip("/") + "/" if self.base_url else ""

    @property
    def base_path(self) -> str:
        """The path the site lives under ("/verbosified-space-rovers/"), "/" when unset."""
        return urlsplit(self.absolute_base).path or "/"


def _check_base_url(value: str) -> str | None:
    """Why ``value`` is not a usable base URL, or None."""
    if value and not re.match(r"https?://[^/?#\s]+(/[^?#\s]*)?$", value):
        return f"base_url must be an http:// or https:// URL with no query or fragment, got {value!r}"
    return None


def with_base_url(config: SiteConfig, base_url: str) -> SiteConfig:
    """``config`` with base_url overridden (build --base-url)."""
    problem = _check_base_url(base_url)
    if problem:
        raise InputError(None, f"--base-url: {problem}")
    return replace(config, base_url=base_url)


_SPLITTERS = ("builtin", "nltk-data")
_RECIPES = ("fast", "seed")
TRAIN_ON = ("passage", "window")
MAX_LENGTH = 1023  # gpt-2-simple's largest sample; the passage's own tokens come off it too (checked per passage)
MAX_SAMPLES = 1000  # one batch: more would not fit in memory on any model worth sampling
MAX_SEED = 2**31 - 1  # the stateless sampler's seeds are 32-bit

_RANGES = {
    "temperature": (lambda v: 0 < v < math.inf, "must be greater than 0 (and finite)"),
    "top_k": (lambda v: v >= 0, "must be 0 (no limit) or more"),
    "samples": (lambda v: 1 <= v <= MAX_SAMPLES, f"must be between 1 and {MAX_SAMPLES}"),
    "length": (lambda v: 1 <= v <= MAX_LENGTH, f"must be between 1 and {MAX_LENGTH} tokens (minus the passage's own)"),
    "seed": (lambda v: 0 <= v <= MAX_SEED, f"must be between 0 and {MAX_SEED}"),
    "learning_rate": (lambda v: 0 < v < math.inf, "must be greater than 0 (and finite)"),
    "finetune_steps": (lambda v: v >= 0, "must be 0 or more"),
    "recipe": (lambda v: v in _RECIPES, f"must be one of {', '.join(_RECIPES)}"),
    "train_on": (lambda v: v in TRAIN_ON, f"must be one of {', '.join(TRAIN_ON)}"),
}


def generation_problem(values: dict[str, Any]) -> tuple[str, str] | None:
    """(key, why) for the first out-of-range generation value, or None."""
    for key, (ok, why) in _RANGES.items():
        if key in values and values[key] is not None and not ok(values[key]):
            return key, f"{why}, got {values[key]!r}"
    return None


def _line_of(text: str, key: str) -> int | None:
    m = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _typed(cls: type, table: dict[str, Any], path: Path, text: str, prefix: str = "") -> dict[str, Any]:
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known or key == "generation":
            raise InputError(path, f"unknown key '{prefix}{key}' (known: {', '.join(sorted(k for k in known if k != 'generation'))})", _line_of(text, key))
        expected = type(getattr(cls(), key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise InputError(path, f"'{prefix}{key}' must be {expected.__name__}, got {value!r}", _line_of(text, key))
        out[key] = value
    return out


def load_config(path: Path) -> SiteConfig:
    """Read and validate site.toml. A missing file gives the defaults."""
    if not path.exists():
        return SiteConfig()
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise InputError(path, f"invalid TOML: {exc}", int(m.group(1)) if m else None) from None
    gen = data.pop("generation", {})
    if not isinstance(gen, dict):
        raise InputError(path, "'generation' must be a table", _line_of(text, "generation"))
    site = _typed(SiteConfig, data, path, text)
    generation = GenerationDefaults(**_typed(GenerationDefaults, gen, path, text, "generation."))
    config = SiteConfig(**site, generation=generation)
    for item in config.explore:
        if not isinstance(item, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*:[1-9][0-9]*", item):
            raise InputError(path, f"explore entries must look like \"essay-slug:PASSAGE\", got {item!r}", _line_of(text, "explore"))
    if config.passage_size < 1:
        raise InputError(path, "passage_size must be at least 1", _line_of(text, "passage_size"))
    if config.sentence_splitter not in _SPLITTERS:
        raise InputError(path, f"sentence_splitter must be one of {_SPLITTERS}", _line_of(text, "sentence_splitter"))
    problem = generation_problem(dataclasses.asdict(generation))
    if problem:
        raise InputError(path, f"generation.{problem[0]} {problem[1]}", _line_of(text, problem[0]))
    problem = _check_base_url(config.base_url)
    if problem:
        raise InputError(path, problem, _line_of(text, "base_url"))
    return config
