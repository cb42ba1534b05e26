"""Import TensorFlow (tf.compat.v1) and gpt-2-simple quietly, once."""

from __future__ import annotations

import contextlib
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


def load():
    """Return (tf, gpt2) with TensorFlow's log noise silenced."""
    if "gpt_2_simple" in sys.modules:
        return sys.modules["tensorflow"], sys.modules["gpt_2_simple"]
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
