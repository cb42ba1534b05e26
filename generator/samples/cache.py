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


def _run_from(data: dict) -> Run:
    samples = tuple(str(s) for s in data["samples"])
    flags = tuple(str(f) for f in data.get("flags", ()))
    if flags and len(flags) != len(samples):
        raise CacheError("flags and samples differ in length")
    return Run(
        model=str(data["model"]),
        model_fingerprint=str(data["model_fingerprint"]),
        recipe=str(data["recipe"]),
        params=Params(**data["params"]),
        samples=samples,
        flags=flags,
    )


def parse_cache(text: str, slug: str) -> SampleCache:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CacheError(f"not a format-{FORMAT} sample cache")
    passages = {}
    for key, entry in data.get("passages", {}).items():
        try:
            position = entry.get("position")
            passages[key] = PassageSamples(text=str(entry["text"]), runs=[_run_from(r) for r in entry["runs"]], position=int(position) if position is not None else None)
        except (KeyError, TypeError) as exc:
            raise CacheError(f"passage {key}: bad entry ({exc})") from None
    return SampleCache(slug=slug, passages=passages)


def load_cache(path: Path, slug: str) -> tuple[SampleCache, str | None]:
    """Read a cache file. A missing one is empty; a broken one is empty plus a warning."""
    if not path.exists():
        return SampleCache(slug), None
    try:
        return parse_cache(path.read_text("utf-8"), slug), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, CacheError, TypeError) as exc:
        return SampleCache(slug), f"{path}: unreadable sample cache, its passages show as not yet verbosified ({exc})"


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
