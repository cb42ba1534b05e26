"""Where a model's weights came from: the record every page's name for a model is made from.

``download-model``, ``import-model`` and ``train-demo-model`` write ``origin.json`` into the
model's folder, with the fingerprint of the weights it speaks for. ``generate`` (and every
other way a run is recorded) copies the record into the essay's sample cache, keyed by that
fingerprint, so a site built where no model is (GitHub Pages) still names the model truly.

A label is a statement about an artwork's medium, so it never comes from a folder's name: a
model with no record (or a record for other weights) is named by its folder and "origin not
recorded", never called OpenAI's and never called a demo. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

OPENAI_MODELS = ("124M", "355M", "774M", "1558M")  # the sizes OpenAI released, as its bucket names them
RECORD = "origin.json"  # in the model's folder; not hashed into the fingerprint (it is not the model)
SOURCES = ("openai", "download", "huggingface", "folder", "trained-here", "random")

# The Hugging Face repositories that hold OpenAI's own GPT-2 release, converted (the legacy ids too).
OPENAI_ON_THE_HUB = {
    **{f"openai-community/{repo}": size for repo, size in (("gpt2", "124M"), ("gpt2-medium", "355M"), ("gpt2-large", "774M"), ("gpt2-xl", "1558M"))},
    **{repo: size for repo, size in (("gpt2", "124M"), ("gpt2-medium", "355M"), ("gpt2-large", "774M"), ("gpt2-xl", "1558M"))},
}


class OriginError(ValueError):
    pass


@dataclass(frozen=True)
class Origin:
    """One model's record. ``source`` says which of the other fields mean something:

    * ``openai``: OpenAI's GPT-2 ``size``, fetched from ``url`` (OpenAI's bucket or a mirror of it);
    * ``download``: another model a server at ``url`` holds in gpt-2-simple's layout;
    * ``huggingface``: ``repository`` at ``commit`` (``revision``: what was asked for);
    * ``folder``: imported from a folder named ``folder`` that did not say where it came from;
    * ``trained-here``: trained on this project's machine, on ``trained_on``;
    * ``random``: random weights with GPT-2's initialisation (the benchmarks' and tests').
    """

    source: str
    fingerprint: str
    size: str = ""
    url: str = ""
    repository: str = ""
    revision: str = ""
    commit: str = ""
    folder: str = ""
    trained_on: str = ""
    note: str = ""  # anything the record's maker adds (a record written after the runs says so here)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise OriginError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if not self.fingerprint.startswith("sha256:"):
            raise OriginError(f"fingerprint {self.fingerprint!r} is not a model fingerprint (sha256:...)")
        if self.source == "openai" and self.size not in OPENAI_MODELS:
            raise OriginError(f"an OpenAI model's size must be one of {', '.join(OPENAI_MODELS)}, got {self.size!r}")
        if self.source == "huggingface" and not self.repository:
            raise OriginError("a Hugging Face model's record names no repository")

    @property
    def openai_size(self) -> str:
        """The size of OpenAI's GPT-2 these weights are, when the record says they are OpenAI's ('' otherwise)."""
        if self.source == "openai":
            return self.size
        if self.source == "huggingface":
            return OPENAI_ON_THE_HUB.get(self.repository, "")
        return ""

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def from_dict(cls, data) -> Origin:
        if not isinstance(data, dict):
            raise OriginError("a model's origin is not an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise OriginError(f"unknown field(s) in a model's origin: {', '.join(unknown)}")
        for key, value in data.items():
            if not isinstance(value, str):
                raise OriginError(f"a model's origin has a {key!r} that is not text ({value!r})")
        for key in ("source", "fingerprint"):
            if key not in data:
                raise OriginError(f"a model's origin has no {key!r}")
        return cls(**data)


def model_label(name: str, origin: Origin | None) -> str:
    """The model as every public page names it, from its record alone."""
    if origin is None:
        return f"model “{name}” (origin not recorded)"
    size = origin.openai_size
    if origin.source == "openai":
        return f"OpenAI’s GPT-2 {size}"
    if origin.source == "huggingface":
        return f"OpenAI’s GPT-2 {size} (from Hugging Face, {origin.repository})" if size else f"“{name}”, a GPT-2 from Hugging Face ({origin.repository})"
    if origin.source == "download":
        return f"“{name}”, a GPT-2 downloaded from {_host(origin.url)}"
    if origin.source == "folder":
        return f"“{name}”, a GPT-2 imported from a folder that did not say where it came from"
    if origin.source == "trained-here":
        return f"demo model “{name}” (a small GPT-2 trained here, not OpenAI’s GPT-2)"
    return f"“{name}”, a GPT-2 with random weights (not a trained model)"


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "a server"
    except ValueError:  # a record written by hand
        return "a server"


def write(model_folder: Path, origin: Origin) -> None:
    """Write the folder's record (replacing a previous one: it speaks for the weights now there)."""
    tmp = model_folder / (RECORD + ".tmp")
    tmp.write_text(json.dumps(origin.as_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    tmp.replace(model_folder / RECORD)


def read(folder: Path, fingerprint: str) -> Origin | None:
    """``folder``'s record, if it has one for the weights whose fingerprint is ``fingerprint``.
    A record for other weights (the folder's files were replaced since) does not count."""
    path = folder / RECORD
    try:
        origin = Origin.from_dict(json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s: not a readable origin record (%s); the model counts as of unrecorded origin", path, exc)
        return None
    if origin.fingerprint != fingerprint:
        log.warning("%s: the record is for weights %s, the folder now holds %s; the model counts as of unrecorded origin",
                    path, origin.fingerprint, fingerprint)
        return None
    return origin


def of_folder(folder: Path) -> Origin | None:
    """The record of the model in ``folder``, checked against its weights' fingerprint."""
    from .engine.checkpoint import fingerprint

    return read(folder, fingerprint(folder))


def record(model_folder: Path, source: str, **details: str) -> Origin:
    """Write the record of the model just made in ``model_folder`` (its fingerprint taken now)."""
    from .engine.checkpoint import fingerprint

    origin = Origin(source, fingerprint(model_folder), **details)
    write(model_folder, origin)
    return origin
