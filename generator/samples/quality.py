"""Is a sample usable? The seed's reasons to re-run, made explicit.

The artist re-sampled with a higher top_k when samples came back blank or
copied the prompt; a sample stuck in a loop is useless for the same reason.
Pure functions over text, no TensorFlow.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
MIN_WORDS = 4  # fewer and there is nothing to pick
COPY_SHARE = 0.6  # share of the sample's word trigrams found in the prompt
LOOP_DISTINCT = 0.5  # distinct trigrams / all trigrams below this is a loop


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _trigrams(words: list[str]) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + 3]) for i in range(len(words) - 2)]


def flag(prompt: str, continuation: str) -> str:
    """"" if usable, else "empty", "copy" or "loop"."""
    words = _words(continuation)
    if len(words) < MIN_WORDS:
        return "empty"
    grams = _trigrams(words)
    if not grams:
        return ""
    prompt_grams = set(_trigrams(_words(prompt)))
    if sum(g in prompt_grams for g in grams) / len(grams) >= COPY_SHARE:
        return "copy"
    if len(grams) >= 6 and len(set(grams)) / len(grams) < LOOP_DISTINCT:
        return "loop"
    return ""
