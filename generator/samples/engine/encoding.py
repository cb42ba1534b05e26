"""GPT-2's byte-level BPE for a model folder, without TensorFlow.

gpt-2-simple's encoder module needs nothing but json and regex, but importing
it through its package imports TensorFlow (seconds). ``generate`` needs token
counts to decide what is to do, so it loads that one file on its own.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

from ...errors import InputError


@lru_cache(maxsize=1)
def _encoder_module():
    spec = importlib.util.find_spec("gpt_2_simple")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(None, "gpt-2-simple is not installed: python3 -m pip install -r requirements.txt")
    path = Path(list(spec.submodule_search_locations)[0]) / "src" / "encoder.py"
    module_spec = importlib.util.spec_from_file_location("vsr_gpt2_encoder", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules.setdefault("vsr_gpt2_encoder", module)
    module_spec.loader.exec_module(module)
    return module


def get_encoder(folder: Path):
    """The same Encoder gpt-2-simple builds from encoder.json and vocab.bpe."""
    return _encoder_module().get_encoder(str(folder))
