"""Why a cached run would not come out the same here: its model is not here, it was made elsewhere,
or by another version of its recipe's engine.

TensorFlow's bits hold on one platform (``generator.platform``), so a fresh
clone that trains the demo model again gets another fingerprint, and a run
made on an AVX-512 machine is not reproduced on an AVX2 one. ``check`` says
so, one line per essay and reason, instead of leaving it a mystery.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..errors import InputError
from ..platform import Platform, this_machine
from .cache import SampleCache
from .engine import kernels
from .engine.common import VERSIONS
from .engine.checkpoint import check_model, fingerprint, model_folder, read_made_on


def _model_here(models_dir: Path, name: str, cache: dict[str, tuple[str | None, Platform | None]]) -> tuple[str | None, Platform | None]:
    """The fingerprint of models/<name> (None when there is none) and where it was made."""
    if name not in cache:
        try:
            folder = check_model(models_dir, name)
            cache[name] = (fingerprint(folder, remember=False), read_made_on(folder))
        except (InputError, OSError, ValueError):
            cache[name] = (None, None)
    return cache[name]


def provenance_notes(path: Path, cache: SampleCache, models_dir: Path, here: Platform | None = None,
                     models: dict[str, tuple[str | None, Platform | None]] | None = None) -> list[str]:
    """One line per reason this essay's runs would not be reproduced on this machine.
    ``models`` remembers each model folder's fingerprint across essays (hashing 124M takes seconds)."""
    here = here or this_machine()
    models = {} if models is None else models
    absent: Counter[tuple[str, str]] = Counter()
    elsewhere: Counter[str] = Counter()
    versions: Counter[tuple[str, int]] = Counter()
    here_versions = {**VERSIONS, "fast": kernels.expected_version()}  # the fast engine without a compiler: version 3
    unknown = 0
    unrecorded: Counter[tuple[str, str]] = Counter()
    for entry in cache.passages.values():
        for run in entry.runs:
            if run.origin is None:
                unrecorded[(run.model, run.model_fingerprint)] += 1
            fp, _ = _model_here(models_dir, run.model, models)
            if fp != run.model_fingerprint:
                absent[(run.model, run.model_fingerprint)] += 1
            if run.platform is None:
                unknown += 1
            elif run.platform != here:
                elsewhere["; ".join(run.platform.differences(here))] += 1
            if run.recipe in here_versions and (run.engine or 1) != here_versions[run.recipe]:
                versions[(run.recipe, run.engine or 1)] += 1
    notes = []
    for (name, fp), n in sorted(absent.items()):
        have, made_on = models[name]
        folder = model_folder(models_dir, name)
        now = f"{folder} is {have}" + (f", trained on {made_on}" if made_on else "") if have else f"{folder} is not there"
        notes.append(f"{path}: {n} run(s) of model {name} {fp} cannot be made again here: {now}")
    for what, n in sorted(elsewhere.items()):
        notes.append(f"{path}: {n} run(s) were made on another platform, so the same model and seed may give other samples here: {what}")
    for (recipe, version), n in sorted(versions.items()):
        notes.append(f"{path}: {n} run(s) were made by version {version} of the {recipe} engine, this one is version {here_versions[recipe]}: "
                     "the same model, seed and platform may give other samples now (those runs stay as they are)")
    for (name, fp), n in sorted(unrecorded.items()):
        notes.append(f"{path}: {n} run(s) of model {name} {fp} do not record where its weights came from, so pages name it "
                     f"“{name}” (origin not recorded); a model that download-model, import-model or train-demo-model made "
                     "records it, and generate adds it to the runs already here")
    if unknown:
        notes.append(f"{path}: {unknown} run(s) do not say what they were made on (made before runs recorded it)")
    return notes
