"""The sample cache: content/samples/<slug>.json.

One file per essay. Per passage key: the passage text and every generation
run made for it, with everything needed to reproduce the run. Files are
written atomically with sorted keys and fixed indentation, so a re-run that
adds one passage shows up as one hunk in ``git diff``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..fsutil import atomic_write_text, digest

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True)
class Params:
    temperature: float
    top_k: int
    length: int
    seed: int
    finetune_steps: int
    learning_rate: float
    train_on: str = "passage"  # what a fine-tune step sees: the passage's tokens, or gpt-2-simple's 1024-token windows


@dataclass(frozen=True)
class Run:
    """One call of the engine for one passage: ``samples`` are the continuations
    (the text generated after the passage, which was the prompt)."""

    model: str
    model_fingerprint: str
    recipe: str
    params: Params
    samples: tuple[str, ...]
    flags: tuple[str, ...] = ()  # per sample: "" usable, else why not ("empty", "copy", "loop")

    def __post_init__(self) -> None:
        if not self.flags:
            object.__setattr__(self, "flags", ("",) * len(self.samples))
        if len(self.flags) != len(self.samples):
            raise ValueError("one flag per sample")

    @property
    def id(self) -> str:
        """Stable: the same model, recipe and parameters always give the same id."""
        return "r" + run_id_for(self.model_fingerprint, self.recipe, self.params)

    @property
    def label(self) -> str:
        p = self.params
        return f"{self.model} · {self.recipe} · temperature {p.temperature:g} · top_k {p.top_k} · {p.length} tokens · seed {p.seed}"


# Parameters added after runs were first cached: at these values they are left
# out of the run id, so every id made before them stays valid.
_LATER_DEFAULTS = {"train_on": "passage"}


def run_id_for(fingerprint: str, recipe: str, params: Params) -> str:
    fields = {k: v for k, v in asdict(params).items() if _LATER_DEFAULTS.get(k, object()) != v}
    return digest(json.dumps([fingerprint, recipe, fields], sort_keys=True), 8)


@dataclass
class PassageSamples:
    text: str
    runs: list[Run] = field(default_factory=list)
    position: int | None = None  # 1-based passage number in its essay (kept by explore, for ordering)

    def run(self, run_id: str) -> Run | None:
        return next((r for r in self.runs if r.id == run_id), None)

    def add(self, run: Run) -> None:
        """Add a run, replacing an earlier one with the same id."""
        self.runs = [r for r in self.runs if r.id != run.id] + [run]


@dataclass
class SampleCache:
    slug: str
    passages: dict[str, PassageSamples] = field(default_factory=dict)

    def for_passage(self, key: str) -> PassageSamples | None:
        return self.passages.get(key)


class CacheError(ValueError):
    pass


_NUMBER = (int, float)
_PARAM_TYPES = {"temperature": _NUMBER, "top_k": int, "length": int, "seed": int, "finetune_steps": int, "learning_rate": _NUMBER, "train_on": str}
_OPTIONAL_PARAMS = {"train_on"}


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise CacheError(what)


def _is(value, types) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


def _params_from(data) -> Params:
    _check(isinstance(data, dict), "'params' is not an object")
    unknown = sorted(set(data) - set(_PARAM_TYPES))
    _check(not unknown, f"unknown parameter(s) {', '.join(unknown)}")
    for key, types in _PARAM_TYPES.items():
        if key in data:
            _check(_is(data[key], types), f"parameter '{key}' has the wrong type ({data[key]!r})")
        else:
            _check(key in _OPTIONAL_PARAMS, f"parameter '{key}' is missing")
    floats = {k: float(data[k]) for k in ("temperature", "learning_rate")}
    return Params(**{**data, **floats})


def _run_from(data) -> Run:
    _check(isinstance(data, dict), "a run is not an object")
    for key in ("model", "model_fingerprint", "recipe"):
        _check(isinstance(data.get(key), str), f"a run's '{key}' is missing or not text")
    samples, flags = data.get("samples"), data.get("flags", [])
    _check(isinstance(samples, list) and all(isinstance(x, str) for x in samples), "a run's 'samples' is not a list of text")
    _check(isinstance(flags, list) and all(isinstance(x, str) for x in flags), "a run's 'flags' is not a list of text")
    _check(not flags or len(flags) == len(samples), "a run's flags and samples differ in length")
    return Run(data["model"], data["model_fingerprint"], data["recipe"], _params_from(data.get("params")), tuple(samples), tuple(flags))


def _passage_from(entry) -> PassageSamples:
    _check(isinstance(entry, dict), "the entry is not an object")
    _check(isinstance(entry.get("text"), str), "'text' is missing or not text")
    _check(isinstance(entry.get("runs"), list), "'runs' is missing or not a list")
    position = entry.get("position")
    _check(position is None or (_is(position, int) and position >= 1), f"'position' must be a whole number from 1, got {position!r}")
    return PassageSamples(text=entry["text"], runs=[_run_from(r) for r in entry["runs"]], position=position)


def parse_cache(text: str, slug: str) -> tuple[SampleCache, list[str]]:
    """The cache, and what was malformed in it (each such passage is left out, so it
    shows as not yet verbosified). A file that is not a cache at all raises CacheError."""
    data = json.loads(text)
    _check(isinstance(data, dict) and data.get("format") == FORMAT, f"not a format-{FORMAT} sample cache")
    entries = data.get("passages", {})
    _check(isinstance(entries, dict), "'passages' is not an object of passage entries")
    passages, problems = {}, []
    for key, entry in entries.items():
        try:
            passages[key] = _passage_from(entry)
        except (CacheError, TypeError, ValueError) as exc:
            problems.append(f"passage {key}: {exc}")
    return SampleCache(slug=slug, passages=passages), problems


def load_cache(path: Path, slug: str) -> tuple[SampleCache, str | None]:
    """Read a cache file. A missing one is empty; a broken one is empty plus a warning;
    malformed passages are left out, with a warning naming each."""
    if not path.exists():
        return SampleCache(slug), None
    try:
        cache, problems = parse_cache(path.read_text("utf-8"), slug)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, CacheError) as exc:
        return SampleCache(slug), f"{path}: unreadable sample cache, its passages show as not yet verbosified ({exc})"
    if problems:
        return cache, f"{path}: malformed sample cache entries, shown as not yet verbosified: " + "; ".join(problems)
    return cache, None


def dump_cache(cache: SampleCache) -> str:
    passages = {}
    for key, entry in sorted(cache.passages.items()):
        passages[key] = {
            **({"position": entry.position} if entry.position is not None else {}),
            "text": entry.text,
            "runs": [
                {
                    "id": r.id,
                    "model": r.model,
                    "model_fingerprint": r.model_fingerprint,
                    "recipe": r.recipe,
                    "params": asdict(r.params),
                    "samples": list(r.samples),
                    "flags": list(r.flags),
                }
                for r in entry.runs
            ],
        }
    doc = {"format": FORMAT, "essay": cache.slug, "passages": passages}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def save_cache(path: Path, cache: SampleCache) -> None:
    atomic_write_text(path, dump_cache(cache))
