"""What a model or a run was made on: the facts that decide TensorFlow's bits.

TensorFlow promises bitwise results on one platform only: its CPU kernels
differ by instruction set, oneDNN reorders reductions, and a reduction's
order depends on the intra-op thread count. So every run (and the demo
model) records these, and ``check`` can say why a run is not reproduced here.
Nothing in this module imports TensorFlow.
"""

from __future__ import annotations

import math
import os
import platform as _platform
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from importlib import metadata
from pathlib import Path

# x86-64 micro-architecture levels (the psABI's), by the cpuinfo flags each adds.
_X86_LEVELS = (
    ("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
    ("x86-64-v3", {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"}),
    ("x86-64-v2", {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}),
)
_NOTABLE = ("avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_tile")  # oneDNN takes other paths with these


@dataclass(frozen=True)
class Platform:
    tensorflow: str  # its version
    onednn: bool  # TF_ENABLE_ONEDNN_OPTS as TensorFlow reads it
    threads: int  # intra-op threads the engine runs with
    cpu: str  # the CPU's model name
    isa: str  # instruction-set level, and the extensions that change oneDNN's kernels

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> Platform:
        """A recorded platform; ValueError when it is not one."""
        names = {f.name: f.type for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != set(names):
            raise ValueError(f"a platform records exactly {', '.join(names)}")
        kinds = {"tensorflow": str, "onednn": bool, "threads": int, "cpu": str, "isa": str}
        for key, kind in kinds.items():
            if not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
                raise ValueError(f"a platform's '{key}' has the wrong type ({data[key]!r})")
        return cls(**data)

    def differences(self, other: Platform) -> list[str]:
        """What differs from ``other``, in words: 'isa x86-64-v4 here x86-64-v3'."""
        out = []
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if mine != theirs:
                out.append(f"{f.name} {mine} (here {theirs})")
        return out

    def __str__(self) -> str:
        return f"{self.cpu}, {self.isa}, TensorFlow {self.tensorflow}, oneDNN {'on' if self.onednn else 'off'}, {self.threads} thread(s)"


def _cpu_quota() -> int | None:
    """The cgroup v2 CPU quota in whole CPUs, if one is set."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def schedulable_cpus() -> int:
    """The CPUs this process may run on: TensorFlow's default thread count (gpt-2-simple's
    sessions and the demo model's training use it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


THREADS_ENV = "VSR_ENGINE_THREADS"  # fewer threads than the CPUs (generate --threads, each Ray worker's share)


def engine_threads() -> int:
    """The fast engine's thread count: the CPUs this process may run on, within any
    cgroup quota, not the machine's count: results are exact for one thread count, so
    it must be the one the engine really gets. ``VSR_ENGINE_THREADS`` asks for fewer
    (``generate --threads``; each of several workers on one machine takes its share)."""
    n = schedulable_cpus()
    quota = _cpu_quota()
    have = max(1, min(n, quota) if quota else n)
    asked = os.environ.get(THREADS_ENV, "").strip()
    if not asked:
        return have
    if not asked.isdecimal() or int(asked) < 1:
        raise ValueError(f"{THREADS_ENV} must be a whole number from 1, got {asked!r}")
    return min(have, int(asked))


def onednn_enabled() -> bool:
    """What TensorFlow will do: TF_ENABLE_ONEDNN_OPTS if set, else its default
    (on for x86-64 Linux since TensorFlow 2.9, off elsewhere)."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if value is not None:
        return value.strip().lower() in ("1", "true", "yes", "on")
    return _platform.system() == "Linux" and _platform.machine().lower() in ("x86_64", "amd64")


def tensorflow_version() -> str:
    try:
        return metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        try:
            return metadata.version("tensorflow-cpu")
        except metadata.PackageNotFoundError:
            return "not installed"


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    name, flags = "", frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if not name and key in ("model name", "hardware", "cpu model"):
            name = " ".join(value.split())
        elif not flags and key in ("flags", "features"):
            flags = frozenset(value.split())
    return name or _platform.processor() or _platform.machine() or "unknown", flags


def isa_level() -> str:
    machine = _platform.machine().lower()
    _, flags = _cpuinfo()
    if machine in ("x86_64", "amd64"):
        level = next((name for name, needs in _X86_LEVELS if needs <= flags), "x86-64")
        extra = [f for f in _NOTABLE if f in flags]
        return " ".join([level, *extra])
    notable = [f for f in ("asimd", "sve", "sve2", "bf16", "i8mm") if f in flags]
    return " ".join([machine or "unknown", *notable])


def this_machine(threads: int | None = None) -> Platform:
    """This machine, for an engine running ``threads`` intra-op threads (default: ``engine_threads()``)."""
    cpu, _ = _cpuinfo()
    return Platform(tensorflow_version(), onednn_enabled(), threads or engine_threads(), cpu, isa_level())
