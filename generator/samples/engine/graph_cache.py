"""The fast engine's graph, kept between runs.

Building it in Python takes about 5 s on 124M's shape, most of it the
fine-tune's gradients; reading the same GraphDef back takes about 1 s. The
file holds only the graph (no weights: they always come from the checkpoint),
so an engine read from it runs the same kernels on the same inputs and gives
the same bytes as one built afresh.

A graph is found by a key over everything that shapes it: the model's
hyperparameters, the engine's options, TensorFlow's version, and the source of
gpt-2-simple's ``model.py`` and of the engine's own modules. A change to any of
them is a new key, so a stale graph is never read. The files live in
``$XDG_CACHE_HOME/verbosified-space-rovers/graphs`` (``~/.cache`` by default);
``VSR_GRAPH_CACHE=off`` turns the cache off. A file that cannot be read is
logged and the graph is built again.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ...fsutil import atomic_write_bytes, digest

log = logging.getLogger(__name__)

_ENGINE_MODULES = ("fast.py", "forward.py", "sampler.py", "adam.py", "windows.py", "graph_cache.py")


def folder() -> Path | None:
    """Where graphs are kept, or None when the cache is off."""
    if os.environ.get("VSR_GRAPH_CACHE", "").lower() in ("off", "0", "no"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "verbosified-space-rovers" / "graphs"


def key(tf, library_model, shape: dict) -> str:
    """A name for the graph that ``shape`` (hyperparameters and engine options) gives with
    this TensorFlow, this gpt-2-simple and this engine's code."""
    here = Path(__file__).resolve().parent
    sources = {name: digest((here / name).read_bytes()) for name in _ENGINE_MODULES}
    sources["gpt_2_simple/model.py"] = digest(Path(library_model.__file__).read_bytes())
    return digest(json.dumps({"tensorflow": tf.__version__, "shape": shape, "sources": sources}, sort_keys=True), 32)


def names(value):
    """Tensors and operations as their names in the graph (lists and dicts followed, None kept)."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [names(v) for v in value]
    if isinstance(value, dict):
        return {k: names(v) for k, v in value.items()}
    return value.name


def resolve(graph, value):
    """``names``' inverse in ``graph``: ``x:0`` is a tensor, a name without ``:`` an operation."""
    if value is None:
        return None
    if isinstance(value, list):
        return [resolve(graph, v) for v in value]
    if isinstance(value, dict):
        return {k: resolve(graph, v) for k, v in value.items()}
    return graph.get_tensor_by_name(value) if ":" in value else graph.get_operation_by_name(value)


def read(tf, name: str) -> tuple[object, dict] | None:
    """The GraphDef and handles kept under ``name``, or None (not kept, or unreadable)."""
    where = folder()
    if where is None or not (where / f"{name}.json").exists():
        return None
    try:
        handles = json.loads((where / f"{name}.json").read_text(encoding="utf-8"))
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString((where / f"{name}.pb").read_bytes())
        if digest((where / f"{name}.pb").read_bytes(), 32) != handles.pop("graph_digest"):
            raise ValueError("its digest does not match")
    except Exception as err:  # noqa: BLE001 - any bad file: build the graph again
        log.warning("ignoring the kept graph %s (%s); building it again", where / f"{name}.pb", err)
        return None
    return graph_def, handles


def write(name: str, graph_def, handles: dict) -> None:
    """Keep a graph; a cache that cannot be written costs the next run 5 s, nothing else."""
    where = folder()
    if where is None:
        return
    data = graph_def.SerializeToString()
    try:
        atomic_write_bytes(where / f"{name}.pb", data, durable=False)
        # the handles last: a .json names a .pb that is complete, and whose bytes it carries the digest of
        atomic_write_bytes(where / f"{name}.json", json.dumps({**handles, "graph_digest": digest(data, 32)}).encode(), durable=False)
    except OSError as err:
        log.warning("could not keep the engine's graph in %s (%s)", where, err)
