"""The sample cache: what the engine made, per passage, and how it is written down.

Per passage key: the passage text and every generation run made for it, with
everything needed to reproduce the run. An essay's samples live in a folder, a
file per passage (``store.py``); the exploration's, and an essay's from before
that, in one file (``load_file``, ``dump_cache``). Files are written with sorted
keys and fixed indentation, so a re-run that adds one passage shows up as one
hunk in ``git diff``, and only through ``record`` (atomically, under the store's
lock). Runs are only ever appended (``PassageSamples.add``): a pick points at a
run by its id, so no run is ever replaced under it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..fsutil import digest
from ..platform import Platform
from .origin import Origin, OriginError

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
    platform: Platform | None = field(default=None, compare=False)  # what it was made on (None: made before that was recorded)
    engine: int | None = field(default=None, compare=False)  # the recipe's engine version (None: made before that was recorded, version 1)
    stored_id: str = field(default="", compare=False)  # the id the cache gave it, when that is not the computed one
    origin: Origin | None = field(default=None, compare=False)  # where the model's weights came from (None: not recorded)

    def __post_init__(self) -> None:
        if not self.flags:
            object.__setattr__(self, "flags", ("",) * len(self.samples))
        if len(self.flags) != len(self.samples):
            raise ValueError("one flag per sample")

    @property
    def id(self) -> str:
        """Stable: the same model, recipe, parameters and sample count give the same id.
        An id read from the cache is kept as it was written, so every pick into it holds."""
        return self.stored_id or "r" + run_id_for(self.model_fingerprint, self.recipe, self.params, len(self.samples))

    def same_draws(self, other: Run) -> bool:
        """The same engine call with the same result: the same run, whatever its id."""
        return (self.model_fingerprint, self.recipe, self.params, self.samples) == (other.model_fingerprint, other.recipe, other.params, other.samples)

    @property
    def label(self) -> str:
        p = self.params
        return f"{self.model} · {self.recipe} · temperature {p.temperature:g} · top_k {p.top_k} · {p.length} tokens · seed {p.seed}"


# What was added to the id after runs were first cached: at these values it is
# left out, so every id made before it stays valid. The sample count is there
# because the draws differ with the batch size.
_LATER_DEFAULTS = {"train_on": "passage", "samples": 10}
RUN_ID = re.compile(r"r[0-9a-f]{8}")


def run_id_for(fingerprint: str, recipe: str, params: Params, samples: int) -> str:
    fields = {k: v for k, v in {**asdict(params), "samples": samples}.items() if _LATER_DEFAULTS.get(k, object()) != v}
    return digest(json.dumps([fingerprint, recipe, fields], sort_keys=True), 8)


@dataclass
class PassageSamples:
    text: str
    runs: list[Run] = field(default_factory=list)
    position: int | None = None  # 1-based passage number in its essay (kept by explore, for ordering)

    def run(self, run_id: str) -> Run | None:
        return next((r for r in self.runs if r.id == run_id), None)

    def find(self, fingerprint: str, recipe: str, params: Params) -> list[Run]:
        """The runs made with this model, recipe and these parameters (any sample count)."""
        return [r for r in self.runs if (r.model_fingerprint, r.recipe, r.params) == (fingerprint, recipe, params)]

    def add(self, run: Run) -> tuple[Run, bool]:
        """Append ``run``; returns it as stored, and whether it is new. Runs are never
        replaced: the same run already there is found, not added again, and a run whose
        id another run holds (other samples: another platform, say) gets an id of its own."""
        for r in self.runs:
            if r.same_draws(run):
                return r, False
        taken = {r.id for r in self.runs}
        if run.id in taken:
            n = 0
            while (new := "r" + digest(json.dumps([run.id, list(run.samples), n]), 8)) in taken:
                n += 1
            run = replace(run, stored_id=new)
        self.runs.append(run)
        return run, True


@dataclass
class SampleCache:
    slug: str
    passages: dict[str, PassageSamples] = field(default_factory=dict)

    def for_passage(self, key: str) -> PassageSamples | None:
        return self.passages.get(key)

    def origin_of(self, fingerprint: str) -> Origin | None:
        """The recorded origin of the model with this fingerprint, if any run of it carries one."""
        return next((r.origin for e in self.passages.values() for r in e.runs if r.origin and r.model_fingerprint == fingerprint), None)

    def record_origin(self, origin: Origin) -> Origin:
        """Give the runs of the model ``origin`` speaks for that record, and return the record the
        cache keeps for it: the first one stays (a record is never replaced under published text)."""
        kept = self.origin_of(origin.fingerprint)
        if kept is not None:
            return kept
        for entry in self.passages.values():
            entry.runs = [replace(r, origin=origin) if r.model_fingerprint == origin.fingerprint else r for r in entry.runs]
        return origin


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
    run_id = data.get("id", "")
    _check(run_id == "" or (isinstance(run_id, str) and RUN_ID.fullmatch(run_id) is not None), f"a run's 'id' is not r and eight hex digits ({run_id!r})")
    platform = None
    if data.get("platform") is not None:
        try:
            platform = Platform.from_dict(data["platform"])
        except ValueError as exc:
            raise CacheError(str(exc)) from None
    engine = data.get("engine")
    _check(engine is None or (_is(engine, int) and engine >= 1), f"a run's 'engine' is not a version number from 1 ({engine!r})")
    run = Run(data["model"], data["model_fingerprint"], data["recipe"], _params_from(data.get("params")), tuple(samples), tuple(flags), platform, engine)
    return replace(run, stored_id=run_id) if run_id and run_id != run.id else run


def parse_passage(entry) -> PassageSamples:
    _check(isinstance(entry, dict), "the entry is not an object")
    _check(isinstance(entry.get("text"), str), "'text' is missing or not text")
    _check(isinstance(entry.get("runs"), list), "'runs' is missing or not a list")
    position = entry.get("position")
    _check(position is None or (_is(position, int) and position >= 1), f"'position' must be a whole number from 1, got {position!r}")
    runs = [_run_from(r) for r in entry["runs"]]
    ids = [r.id for r in runs]
    _check(len(set(ids)) == len(ids), f"two runs share the id {next((i for i in ids if ids.count(i) > 1), '')}")
    return PassageSamples(text=entry["text"], runs=runs, position=position)


def origins_from(data, problems: list[str]) -> dict[str, Origin]:
    """The ``models`` object: each model's recorded origin, keyed by its fingerprint."""
    if not isinstance(data, dict):
        problems.append("'models' is not an object of model origins")
        return {}
    origins = {}
    for fp, entry in data.items():
        try:
            origin = Origin.from_dict(entry)
            _check(origin.fingerprint == fp, f"the record names the fingerprint {origin.fingerprint}")
            origins[fp] = origin
        except (CacheError, OriginError) as exc:
            problems.append(f"model {fp}: {exc}")
    return origins


def parse_cache(text: str, slug: str) -> tuple[SampleCache, list[str]]:
    """The cache, and what was malformed in it (each such passage is left out, so it
    shows as not yet verbosified). A file that is not a cache at all raises CacheError."""
    data = json.loads(text)
    _check(isinstance(data, dict) and data.get("format") == FORMAT, f"not a format-{FORMAT} sample cache")
    entries = data.get("passages", {})
    _check(isinstance(entries, dict), "'passages' is not an object of passage entries")
    passages, problems = {}, []
    origins = origins_from(data.get("models", {}), problems)
    for key, entry in entries.items():
        try:
            passages[key] = parse_passage(entry)
        except (CacheError, TypeError, ValueError) as exc:
            problems.append(f"passage {key}: {exc}")
    for entry in passages.values():
        entry.runs = [replace(r, origin=origins.get(r.model_fingerprint)) for r in entry.runs]
    return SampleCache(slug=slug, passages=passages), problems


def load_file(path: Path, slug: str) -> tuple[SampleCache, str | None]:
    """Read a one-file cache (an exploration's, or an essay's from before its store became a
    folder: ``store.load_cache`` reads either kind). A missing one is empty; a broken one is
    empty plus a warning; malformed passages are left out, with a warning naming each."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:  # none (or, for a legacy file, moved into its folder a moment ago)
        return SampleCache(slug), None
    except (OSError, UnicodeDecodeError) as exc:
        return SampleCache(slug), f"{path}: unreadable sample cache, its passages show as not yet verbosified ({exc})"
    try:
        cache, problems = parse_cache(text, slug)
    except (json.JSONDecodeError, CacheError) as exc:
        return SampleCache(slug), f"{path}: unreadable sample cache, its passages show as not yet verbosified ({exc})"
    if problems:
        return cache, f"{path}: malformed sample cache entries, shown as not yet verbosified: " + "; ".join(problems)
    return cache, None


def run_as_dict(r: Run) -> dict:
    """A run as the cache writes it (its model's origin is kept apart, once per model)."""
    return {
        "id": r.id,
        "model": r.model,
        "model_fingerprint": r.model_fingerprint,
        "recipe": r.recipe,
        "params": asdict(r.params),
        "samples": list(r.samples),
        "flags": list(r.flags),
        **({"platform": r.platform.as_dict()} if r.platform else {}),
        **({"engine": r.engine} if r.engine is not None else {}),
    }


def run_from_dict(data, origin: Origin | None = None) -> Run:
    """A run written by ``run_as_dict``, checked as the cache checks it (CacheError)."""
    return replace(_run_from(data), origin=origin)


def dump_cache(cache: SampleCache) -> str:
    passages = {}
    for key, entry in sorted(cache.passages.items()):
        passages[key] = {
            **({"position": entry.position} if entry.position is not None else {}),
            "text": entry.text,
            "runs": [run_as_dict(r) for r in entry.runs],
        }
    origins = {r.model_fingerprint: r.origin.as_dict() for e in cache.passages.values() for r in e.runs if r.origin}
    doc = {"format": FORMAT, "essay": cache.slug, **({"models": origins} if origins else {}), "passages": passages}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

