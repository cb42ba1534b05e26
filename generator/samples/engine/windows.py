"""What gpt-2-simple's ``finetune(steps=1)`` trains on, drawn the same way.

The artist's workaround for the library's hard-coded 1024-token sample size:
the passage pasted until the file fills the window. ``finetune`` then reads
the file with ``load_dataset`` (one chunk, ``<|endoftext|>`` appended as text,
since the file is under ``combine`` characters), and for every step draws
``accumulate_gradients`` (5) windows of 1024 tokens with Python's ``random``
(``Sampler.sample``), summing their gradients into one Adam step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

WINDOW = 1024  # gpt-2-simple's sample_batch() always takes 1024 tokens
ACCUMULATE = 5  # finetune(accumulate_gradients=5), the library's default
END_OF_TEXT = "<|endoftext|>"


def dataset_text(prompt: str, encode: Callable[[str], list[int]]) -> str:
    """The passage pasted until it fills the window (and one more, since the
    library's sampler needs strictly more tokens than it takes)."""
    copies = [prompt]
    while len(encode("\n".join(copies))) <= WINDOW + 1:
        copies.append(prompt)
    return "\n".join(copies) + "\n"


def dataset_tokens(prompt: str, encode: Callable[[str], list[int]]) -> list[int]:
    """The tokens ``load_dataset`` makes of that file."""
    return encode(dataset_text(prompt, encode) + END_OF_TEXT)


def windows(tokens: list[int], rng: random.Random, count: int = ACCUMULATE) -> Iterator[list[int]]:
    """``Sampler.sample(1024)`` ``count`` times, on one chunk: the same draws from ``rng``."""
    for _ in range(count):
        start = rng.randint(0, len(tokens) - WINDOW - 1)
        yield tokens[start : start + WINDOW]
