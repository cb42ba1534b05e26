"""Import TensorFlow (tf.compat.v1) and gpt-2-simple quietly, once."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import warnings


@contextlib.contextmanager
def _native_stderr_silenced():
    """TensorFlow's C++ side logs through absl before any setting can reach it
    (TF_CPP_MIN_LOG_LEVEL no longer stops the import-time lines), so point
    file descriptor 2 at /dev/null while it loads."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own arena of heap, up to eight per core, and
    keeps what each arena once held (TensorFlow's runtime allocates its small things there;
    its tensors have an allocator of their own). Two arenas took 0.03-0.05 GB off the peak
    on 355M's, 774M's and 1558M's shapes, 2 cores (bench/memory.py). Set before TensorFlow
    starts a thread; a C library other than glibc is left alone, and so is a
    MALLOC_ARENA_MAX the user set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(ctypes.c_int(-8), ctypes.c_int(arenas))  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def load():
    """Return (tf, gpt2) with TensorFlow's log noise silenced."""
    if "gpt_2_simple" in sys.modules:
        return sys.modules["tensorflow"], sys.modules["gpt_2_simple"]
    _fewer_malloc_arenas()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    with _native_stderr_silenced():
        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)
        tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
        import gpt_2_simple as gpt2  # disables eager execution: tf.compat.v1 graphs from here on
    return tf, gpt2
