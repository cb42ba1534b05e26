"""The engine's compiled kernels (``step_kernels.cc``: the sampling step's attention, norm and
matrix products, the restore of the base weights into the variables' own buffers, and the
fine-tune's one-step update), compiled here once and loaded.

TensorFlow runs a custom op from a shared library built against the installed TensorFlow's
own headers (``tf.sysconfig``), so the library is compiled on the machine that runs it, by
its C++ compiler (``$CXX``, or ``g++``): about 12 s, once. The library is kept beside the
engine's graphs (``graph_cache.folder()``, in ``kernels/``), named by a digest of the source,
the compile command, the compiler's version and TensorFlow's version, so any change compiles
it again. As with a kept graph, it is loaded only from a folder that no other user can
write: it is a program. With the cache off (``VSR_GRAPH_CACHE=off``) it is compiled for the
process, in a temporary folder.

Where there is no compiler, the compile fails, or TensorFlow sees a GPU (the kernels are the
CPU's; on a GPU their inputs would go back and forth every step), ``load`` says why in the log
and returns None: the engine then runs all of it as TensorFlow operations, engine version 3
(``common.VERSIONS``), and records that version with its runs. (Only the sampling step's
kernels change bits; the restore and the update give the same bytes either way.)
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ...fsutil import digest
from ...platform import isa_level
from . import graph_cache
from .common import VERSIONS, WITHOUT_KERNEL

log = logging.getLogger(__name__)

SOURCE = Path(__file__).resolve().parent / "step_kernels.cc"
# the ops as tf.load_op_library's module names them
ATTENTION, NORM, DENSE, LOGITS = "vsr_decode_attention", "vsr_layer_norm", "vsr_decode_dense", "vsr_decode_logits"
RESTORE, UPDATE = "vsr_restore", "vsr_step_update"
_loaded: list = []  # the module, once loaded: a process registers the op once


def compile_command(tf, source: Path, target: Path) -> list[str]:
    """The compiler's command line. ``-ffp-contract=off``: no multiply and add fused into
    one rounding, so the bits are those of the source's order on every x86 level (the
    kernel's sums are in lanes whose order the source fixes; wider vectors change the speed,
    not the result)."""
    compiler = os.environ.get("CXX") or "g++"
    level = isa_level().split()[0]
    target_flags = [f"-march={level}"] if level.startswith("x86-64-v") else []
    return [compiler, "-shared", "-fPIC", "-O3", "-ffp-contract=off", *target_flags, *tf.sysconfig.get_compile_flags(),
            str(source), "-o", str(target), *tf.sysconfig.get_link_flags()]


def _compiler_version(command: list[str]) -> str:
    return subprocess.run([command[0], "--version"], capture_output=True, text=True, timeout=60, check=True).stdout


def _build(tf, where: Path) -> Path:
    """The library in ``where``, compiled unless it is there already."""
    probe = compile_command(tf, SOURCE, Path("step_kernels.so"))  # the whole command, its output named the same every time
    name = digest("\n".join([SOURCE.read_text(encoding="utf-8"), " ".join(probe), _compiler_version(probe), tf.__version__]), 32)
    library = where / f"step_kernels-{name}.so"
    if library.exists():
        return library
    log.info("compiling the sampler's kernels (once, about 15 s)")
    fd, partial = tempfile.mkstemp(dir=where, prefix=".step_kernels-", suffix=".so.tmp")
    os.close(fd)
    try:
        run = subprocess.run(compile_command(tf, SOURCE, Path(partial)), capture_output=True, text=True, timeout=600)
        if run.returncode:
            raise RuntimeError(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f"exit status {run.returncode}")
        os.chmod(partial, 0o700)
        os.replace(partial, library)  # whole or not at all, whoever compiled it first
    finally:
        Path(partial).unlink(missing_ok=True)
    return library


def compiler_found() -> bool:
    """Whether a C++ compiler is there to build the kernels (``$CXX``, or ``g++``)."""
    return shutil.which(os.environ.get("CXX") or "g++") is not None


def fused_multiply_add() -> bool:
    """Whether this CPU adds a product in one rounding in hardware, as the matrix products'
    kernels do on every element: every x86-64 from level v3 (Haswell, 2013; AMD's Piledriver)
    and every 64-bit ARM. Without it (x86-64 v1 and v2) the C library would do each in
    software, slower than TensorFlow's own products by far; other machines are not known here
    and run version 3."""
    return isa_level().split()[0] in ("x86-64-v3", "x86-64-v4", "aarch64", "arm64")


def expected_version() -> int:
    """The fast engine's version on this machine, without TensorFlow (``check`` asks): 5 where
    a compiler can build the kernels and the CPU has fused multiply-add, else 3. A GPU, which
    also means 3, is not looked for."""
    return VERSIONS["fast"] if compiler_found() and fused_multiply_add() else WITHOUT_KERNEL


def load(tf):
    """The library's Python module (``getattr(module, ATTENTION)`` builds that op), or None (the log says why)."""
    if _loaded:  # a process registers the ops once
        return _loaded[0]
    if tf.config.list_physical_devices("GPU"):
        log.info("a GPU is visible: the sampling step runs as TensorFlow operations (engine version 3)")
        return None
    if not fused_multiply_add():
        log.warning("this CPU (%s) has no fused multiply-add: the sampling step runs as TensorFlow operations "
                    "(engine version 3)", isa_level())
        return None
    if not compiler_found():
        log.warning("no C++ compiler (g++, or $CXX): the sampling step runs as TensorFlow operations, slower "
                    "(engine version 3); installing g++ makes it faster")
        return None
    kept = graph_cache.folder()
    where = Path(tempfile.mkdtemp(prefix="vsr-kernel-")) if kept is None else kept / "kernels"
    try:
        if kept is not None:
            # each folder made here is its owner's only (mkdir's mode covers the last one alone);
            # the library is loaded only while no one else could have written it or swapped a folder above it
            for folder in (kept, where):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                if not graph_cache.private(folder):
                    raise PermissionError(f"{folder} could be written by another user")
        library = _build(tf, where)
        if not graph_cache.private(library):
            raise PermissionError(f"{library} could be written by another user")
        _loaded.append(tf.load_op_library(str(library)))
        return _loaded[0]
    except Exception as err:  # noqa: BLE001 - any failure: the TensorFlow operations still work
        log.warning("the sampler's kernels could not be built or loaded (%s): the step runs as TensorFlow "
                    "operations, slower (engine version 3)", err)
        return None
    finally:
        if kept is None:
            shutil.rmtree(where, ignore_errors=True)  # loaded or not: the process keeps its mapping
