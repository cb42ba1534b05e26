"""How much memory a recipe needs on a model, and a refusal, before anything loads, where the
machine cannot give it.

The figures are estimates from the model's shape, fitted to peaks measured on this project's
machine (``bench/memory.py``, ``bench/generation.py``; the README has the table):

* every engine: TensorFlow and its runtime, about 1 GB, and the weights (``W``);
* the fast recipe: the keys and values the sampler keeps (layers x 2 x width x 4 bytes, for
  every sample's drawn positions and once for the prompt's, and 15% more that the allocator
  holds around them) and about 0.12 W of the
  fine-tune's activations (one block's at a time: ``recompute.py``) and of the allocator's
  slack; more than one fine-tune step keeps Adam's two slots (2 W);
* training on 1024-token windows (``train_on = window``, and every seed run): the
  summed gradients and the step's own (2.5 W, fitted) and the activations of a 1024-token window,
  per block about 1024 x 4 bytes x (26 x width + 5 x heads x 1024): the attention's
  1024 x 1024 scores per head are what grows with the model. gpt-2-simple keeps every
  block's; ours, every block's input and one block's activations;
* the seed recipe, gpt-2-simple's ``finetune()``: Adam's slots, the accumulated gradients,
  the gradients themselves and the copy its ``save`` reads beside the weights (6.15 W in all,
  fitted),
  the same window activations and its sampler's keys and values.

The fast recipe's estimates: 1.66, 2.87, 4.99 and 8.84 GB on 124M's, 355M's, 774M's and
1558M's shapes, against 1.48, 2.72, 4.85 and 8.58 GB measured for the whole ``generate`` on
a 3-passage essay (engine version 3); 11.2 GB for 40 samples on 1558M's (10.90 measured, one
passage); training on windows 3.3, 6.96 and 13.47 GB on 124M's, 355M's and 774M's shapes (3.24, 6.33
and 11.71 GB measured, the whole ``generate`` on one passage: ``bench/memory.py --command
--train-on window``; 1558M's, about 25 GB, was not measured on this 24 GB machine), and
the seed recipe on 124M's shape 8.2 GB (8.2 GB measured).
``VSR_MEMORY_CHECK=off`` skips the check (a machine with swap to spare, say).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from .checkpoint import Hparams
from .forward import CHUNK
from .windows import WINDOW

GB = 10**9
RUNTIME = 1.0 * GB  # TensorFlow, the graph, the runtime's own buffers
PROMPT = 100  # the prompt's positions the caches are counted for: a passage of three long sentences


@dataclass(frozen=True)
class Need:
    total: int  # bytes
    parts: dict[str, int]

    def describe(self) -> str:
        return ", ".join(f"{name} {size / GB:.1f} GB" for name, size in self.parts.items() if size >= 0.05 * GB)


def window_activations(hp: Hparams, *, recomputed: bool = False) -> int:
    """What one 1024-token window's forward pass keeps for the backward one: every block's
    activations (gpt-2-simple's backward pass), or, where each block is run again for its
    gradient (ours: ``recompute.py``), every block's input and one block's activations."""
    block = WINDOW * 4 * (26 * hp.n_embd + 5 * hp.n_head * WINDOW)
    if recomputed:
        return hp.n_layer * WINDOW * 4 * hp.n_embd + block
    return hp.n_layer * block


def need(hp: Hparams, recipe: str, *, window: bool = False, max_finetune_steps: int = 1, samples: int = 10, length: int = 100) -> Need:
    """The peak a recipe's engine should reach on a model of shape ``hp``."""
    w = hp.weight_bytes
    if recipe == "seed":  # the library's sampler: every row keeps the prompt's keys and values too
        cache = hp.n_layer * 2 * samples * min(hp.n_ctx, PROMPT + length) * hp.n_embd * 4
        parts = {"runtime": RUNTIME, "weights": w, "Adam's slots, gradients, their sums and the saved copy": int(5.15 * w),
                 "a training window's activations": window_activations(hp), "keys and values": cache}
    else:  # ours: the prompt's once, shared by the rows (``forward.step``)
        room = -(-length // CHUNK) * CHUNK  # the buffers hold whole chunks
        # and 15% more, what the allocator holds around them: 10.90 GB measured for 40 samples on
        # 1558M's shape (one passage), 0.11 GB over the figure without it
        cache = int(1.15 * hp.n_layer * 2 * (samples * room + min(hp.n_ctx, PROMPT)) * hp.n_embd * 4)
        parts = {"runtime": RUNTIME, "weights": w, "fine-tune and slack": int(0.12 * w), "keys and values": cache}
        if max_finetune_steps > 1:
            parts["Adam's slots"] = 2 * w
        if window:
            parts["summed gradients"] = int(2.5 * w)
            parts["a training window's activations"] = window_activations(hp, recomputed=True)
    return Need(sum(parts.values()), parts)


def available() -> tuple[int, int]:
    """(total, available now) memory of this machine, in bytes, from /proc/meminfo."""
    fields = {}
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                fields[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return 0, 0
    return fields.get("MemTotal", 0), fields.get("MemAvailable", fields.get("MemFree", 0))


def check(folder: Path, recipe: str, **shape) -> None:
    """Refuse, before TensorFlow loads, a recipe this machine has not the memory for."""
    if os.environ.get("VSR_MEMORY_CHECK", "").lower() in ("off", "0", "no"):
        return
    total, free = available()
    if not free:
        return  # not Linux: nothing to go by
    hp = Hparams.read(folder)
    needed = need(hp, recipe, **shape)
    if needed.total <= free:
        return
    what = f"the {recipe} recipe" + (" training on 1024-token windows" if shape.get("window") or recipe == "seed" else "")
    hint = ""
    if recipe == "seed" or shape.get("window"):
        lean = need(hp, "fast", samples=shape.get("samples", 10), length=shape.get("length", 100))
        hint = f" The fast recipe training on the passage (the default) needs about {lean.total / GB:.1f} GB here."
    raise InputError(
        folder,
        f"{what} needs about {needed.total / GB:.1f} GB of memory on this model ({needed.describe()}); "
        f"this machine has {free / GB:.1f} GB available of {total / GB:.1f} GB.{hint} "
        "(VSR_MEMORY_CHECK=off tries anyway.)",
    )
