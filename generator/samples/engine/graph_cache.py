"""The fast engine's graph, kept between runs.

Building it in Python takes about 6 s on 124M's shape, most of it the
fine-tune's gradients; reading the same GraphDef back takes about 1 s. The
file holds only the graph (no weights: they always come from the checkpoint),
so an engine read from it runs the same kernels on the same inputs and gives
the same bytes as one built afresh.

A graph is found by a key over what shapes it: the model's hyperparameters,
the engine's options, TensorFlow's and gpt-2-simple's versions, the source of
gpt-2-simple's ``model.py`` and of the engine's own modules, and TensorFlow's
control-flow switches. A change to any of them is a new key. The files live
in ``$XDG_CACHE_HOME/verbosified-space-rovers/graphs`` (``~/.cache`` by
default), a folder only its owner may write: a GraphDef is a program
TensorFlow runs, so one that another user could have written is not read.
``VSR_GRAPH_CACHE=off`` turns the cache off; ``VSR_GRAPH_CACHE=/a/folder``
keeps it there. A file that cannot be read or imported is logged and the
graph is built again. The newest ``KEEP`` graphs stay; older ones are removed
when a new one is written (only files named as ``key`` names them: whatever
else a chosen folder holds stays, and so does its mode).
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from ...fsutil import atomic_write_bytes, digest

log = logging.getLogger(__name__)

_ENGINE_MODULES = ("fast.py", "forward.py", "sampler.py", "adam.py", "recompute.py", "windows.py", "tf.py", "graph_cache.py", "kernels.py",
                   "step_kernels.cc")
_SWITCHES = ("TF2_BEHAVIOR", "TF_ENABLE_CONTROL_FLOW_V2", "TF_ENABLE_ONEDNN_OPTS")
KEEP = 8
_KEY = re.compile("[0-9a-f]{32}")  # key()'s names


def folder() -> Path | None:
    """Where graphs are kept, or None when the cache is off (or there is no home to keep it in)."""
    setting = os.environ.get("VSR_GRAPH_CACHE", "")
    if setting.lower() in ("off", "0", "no"):
        return None
    if os.path.isabs(setting):  # a folder of its own
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG rule: a relative path is ignored
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "verbosified-space-rovers" / "graphs"


def key(tf, library_model, shape: dict) -> str:
    """A name for the graph that ``shape`` (hyperparameters and engine options) gives with
    this TensorFlow, this gpt-2-simple and this engine's code."""
    from importlib.metadata import version

    here = Path(__file__).resolve().parent
    sources = {name: digest((here / name).read_bytes()) for name in _ENGINE_MODULES}
    sources["gpt_2_simple/model.py"] = digest(Path(library_model.__file__).read_bytes())
    versions = {"tensorflow": tf.__version__, "gpt_2_simple": version("gpt_2_simple")}
    switches = {name: os.environ.get(name) for name in _SWITCHES}
    return digest(json.dumps({"versions": versions, "switches": switches, "shape": shape, "sources": sources}, sort_keys=True), 32)


class Kept:
    """A graph part the engine reads back: ``HANDLES`` names the attributes (tensors and
    operations) it runs, and ``from_graph`` sets them from a kept graph without building."""

    HANDLES: tuple[str, ...] = ()

    def handles(self) -> dict:
        return names({name: getattr(self, name) for name in self.HANDLES})

    @classmethod
    def from_graph(cls, graph, handles: dict):
        part = cls.__new__(cls)
        for name, value in resolve(graph, handles).items():
            setattr(part, name, value)
        return part


def private(path: Path) -> bool:
    """Owned by this user and writable by no one else."""
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


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
    if where is None:
        return None
    try:
        handles = json.loads((where / f"{name}.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except Exception as err:  # noqa: BLE001 - any bad file: build the graph again
        log.warning("ignoring the kept graph %s (%s); building it again", where / f"{name}.json", err)
        return None
    graph_file = where / f"{name}.pb"
    try:
        if not all(private(p) for p in (where, graph_file, where / f"{name}.json")):
            raise PermissionError("another user could have written it")
        data = graph_file.read_bytes()
        if digest(data, 32) != handles.pop("graph_digest"):
            raise ValueError("its digest does not match")
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(data)
    except Exception as err:  # noqa: BLE001 - any bad file: build the graph again
        log.warning("ignoring the kept graph %s (%s); building it again", graph_file, err)
        return None
    return graph_def, handles


def write(name: str, graph, handles: dict) -> None:
    """Keep a graph, and drop all but the newest ``KEEP``. A cache that cannot be written
    costs the next run a few seconds, nothing else."""
    where = folder()
    if where is None:
        return
    data = graph.as_graph_def().SerializeToString(deterministic=True)  # two processes keeping one key write the same bytes
    try:
        # a folder made here is its owner's only; one that exists (VSR_GRAPH_CACHE=/a/folder)
        # keeps its mode, and is read only while no one else can write it
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(where / f"{name}.pb", data, durable=False, mode=0o600)
        # the handles last: a .json names a .pb that is complete, and carries its bytes' digest
        handles = {**handles, "graph_digest": digest(data, 32)}
        atomic_write_bytes(where / f"{name}.json", json.dumps(handles).encode(), durable=False, mode=0o600)
        # only the cache's own files, named by their key: anything else in the folder stays
        ours = [p for p in where.glob("*.json") if _KEY.fullmatch(p.stem)]
        kept = sorted(ours, key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEEP:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".pb").unlink(missing_ok=True)
    except OSError as err:
        log.warning("could not keep the engine's graph in %s (%s)", where, err)
