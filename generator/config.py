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


ORIENTATIONS = ("auto", "landscape", "portrait")
LABEL_SIZES = ("A6", "A5")


@dataclass(frozen=True)
class ExhibitionSettings:
    """[exhibition]: the loop on a gallery screen (output/exhibition/) and the wall label (output/label/)."""

    essays: list = field(default_factory=list)  # slugs in the order the loop plays them; empty: every published essay
    seconds_per_word: float = 0.28  # typing speed of the model's words
    hold_seconds: float = 6.0  # how long a finished passage stays before the next
    idle_seconds: float = 60.0  # after a visitor's last touch, the loop plays again
    orientation: str = "auto"  # "portrait" or "landscape" turn the page on a screen mounted the other way
    label_size: str = "A6"  # the printed wall label: A6 or A5
    statement: str = ""  # the label's two lines (default: the site's subtitle)
    year: int = 0  # the label's year (default: the latest essay's date)


@dataclass(frozen=True)
class ChapterSettings:
    """[chapters]: a long text published as chapter pages (``site/chapters.py``), so that no page
    grows past what a phone can load: every passage carries its samples in the page."""

    after: int = 300  # an essay of more passages than this is published in chapters
    every: int = 100  # a chapter's most passages: a part between two ## headings longer than this is cut (and one with none)


@dataclass(frozen=True)
class StationSettings:
    """[station]: visitors verbosify their own words (python build.py station)."""

    examples: list = field(default_factory=list)  # "essay-slug:PASSAGE" offered to try (default: each essay's first)
    untamed: bool = True  # show GPT-2 untamed beside the piece's configuration
    blocklist: str = ""  # a file in the content folder: one word or phrase a line, '#' comments
    timeout_seconds: float = 180.0  # a request that waits, or then runs, longer than this is dropped with a message


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
    exhibition: ExhibitionSettings = field(default_factory=ExhibitionSettings)
    station: StationSettings = field(default_factory=StationSettings)
    chapters: ChapterSettings = field(default_factory=ChapterSettings)

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
PASSAGE_REF = re.compile(r"[a-z0-9][a-z0-9-]*:[1-9][0-9]*")  # "essay-slug:N", N from 1
_TABLES = ("generation", "exhibition", "station", "chapters")
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
        if key not in known or key in _TABLES:
            raise InputError(path, f"unknown key '{prefix}{key}' (known: {', '.join(sorted(k for k in known if k not in _TABLES))})", _line_of(text, key))
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
    tables = {name: data.pop(name, {}) for name in _TABLES}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise InputError(path, f"'{name}' must be a table", _line_of(text, name))
    site = _typed(SiteConfig, data, path, text)
    generation = GenerationDefaults(**_typed(GenerationDefaults, tables["generation"], path, text, "generation."))
    exhibition = ExhibitionSettings(**_typed(ExhibitionSettings, tables["exhibition"], path, text, "exhibition."))
    station = StationSettings(**_typed(StationSettings, tables["station"], path, text, "station."))
    chapters = ChapterSettings(**_typed(ChapterSettings, tables["chapters"], path, text, "chapters."))
    config = SiteConfig(**site, generation=generation, exhibition=exhibition, station=station, chapters=chapters)
    for key, items in (("explore", config.explore), ("examples", config.station.examples)):
        for item in items:
            if not isinstance(item, str) or not PASSAGE_REF.fullmatch(item):
                raise InputError(path, f"{key} entries must look like \"essay-slug:PASSAGE\", got {item!r}", _line_of(text, key))
    if not 5 <= config.station.timeout_seconds <= 3600:
        raise InputError(path, f"station.timeout_seconds must be between 5 and 3600, got {config.station.timeout_seconds!r}", _line_of(text, "timeout_seconds"))
    if config.passage_size < 1:
        raise InputError(path, "passage_size must be at least 1", _line_of(text, "passage_size"))
    for key in ("after", "every"):
        if getattr(chapters, key) < 1:
            raise InputError(path, f"chapters.{key} must be at least 1, got {getattr(chapters, key)}", _line_of(text, key))
    if config.sentence_splitter not in _SPLITTERS:
        raise InputError(path, f"sentence_splitter must be one of {_SPLITTERS}", _line_of(text, "sentence_splitter"))
    problem = generation_problem(dataclasses.asdict(generation))
    if problem:
        raise InputError(path, f"generation.{problem[0]} {problem[1]}", _line_of(text, problem[0]))
    problem = _check_base_url(config.base_url)
    if problem:
        raise InputError(path, problem, _line_of(text, "base_url"))
    problem = exhibition_problem(exhibition)
    if problem:
        raise InputError(path, f"exhibition.{problem[0]} {problem[1]}", _line_of(text, problem[0]))
    return config


def named_essays_problems(config: SiteConfig, passages: dict[str, int], drafts: set[str]) -> list[tuple[str, str]]:
    """What is wrong with [exhibition] essays and [station] examples, given the published essays
    here (slug -> number of passages) and the drafts' slugs: (the entry, why). One rule for
    ``check``, the build and the station: both play to the public, so a draft is never named."""
    out = []
    known = ", ".join(sorted(passages)) or "none"
    for slug in config.exhibition.essays:
        if slug in drafts:
            out.append((slug, f"exhibition.essays names {slug!r}, a draft: the loop plays published essays only (publish it, or take it off the list)"))
        elif slug not in passages:
            out.append((slug, f"exhibition.essays names {slug!r}, not an essay here (known: {known})"))
    for ref in config.station.examples:
        slug, n = ref.rsplit(":", 1)
        if slug in drafts:
            out.append((ref, f"station.examples names {ref!r}, a passage of a draft: the station offers published essays only"))
        elif passages.get(slug, 0) < int(n):
            out.append((ref, f"station.examples names {ref!r}, not a passage of an essay here (known: {known})"))
    return out


def exhibition_problem(ex: ExhibitionSettings) -> tuple[str, str] | None:
    """(key, why) for the first unusable [exhibition] value, or None. Which essays exist is the build's to check."""
    checks = {
        "essays": (all(isinstance(s, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]*", s) for s in ex.essays), "must be a list of essay slugs"),
        "seconds_per_word": (0 < ex.seconds_per_word <= 10, "must be more than 0 and at most 10"),
        "hold_seconds": (0 <= ex.hold_seconds <= 600, "must be between 0 and 600"),
        "idle_seconds": (5 <= ex.idle_seconds <= 3600, "must be between 5 and 3600"),
        "orientation": (ex.orientation in ORIENTATIONS, f"must be one of {', '.join(ORIENTATIONS)}"),
        "label_size": (ex.label_size in LABEL_SIZES, f"must be one of {', '.join(LABEL_SIZES)}"),
        "year": (ex.year == 0 or 1000 <= ex.year <= 9999, "must be a four-digit year (or 0: the latest essay's)"),
    }
    for key, (ok, why) in checks.items():
        if not ok:
            return key, f"{why}, got {getattr(ex, key)!r}"
    return None
