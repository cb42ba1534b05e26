"""What both recipes share: the Engine protocol, their result type, their errors and the one
rule for whether a prompt and its sample fit a model's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...platform import Platform
    from ..cache import Params
    from ..origin import Origin

SEED_CONTEXT = 1023  # gpt-2-simple's generate() holds at most 1023 tokens, prompt and sample together

# Each recipe's engine version: what its bits depend on besides the inputs, the seed and the
# platform. It goes up whenever a change may give other bytes (a faster kernel, another order
# of a sum); every run records it, an older version's runs stay as they are, and ``check``
# notes them. Runs made before versions were recorded are version 1.
# fast 2 (2026-12-06): the sampler's step reads the prompt's keys and values once for every
# row, masks the positions not yet drawn instead of copying those drawn, and takes GELU's cube
# as x * x * x (``forward.step``): its logits within 1e-5 of the library's (of each row's largest), no longer bit for bit.
# fast 3 (2026-12-06): the drawn tokens' keys and values sit in chunks of 16 positions made once
# for the run; the attention weighs each chunk's values apart and sums the chunks.
# fast 4 (2026-12-06): each layer's attention and each norm in a sampling step is one compiled
# op (``step_kernels.cc``): their own order of the sums and their own exponential. Where the
# ops cannot be built (no C++ compiler) or TensorFlow sees a GPU, the engine is still version 3
# (``WITHOUT_KERNEL``) and records that.
# fast 5 (2026-12-06): the step's matrix products are compiled ops too (each output a chain of
# fused multiply-adds in the order ``step_kernels.cc`` fixes), the output layer against the
# embeddings as they are, with no vocabulary blocks.
VERSIONS = {"fast": 5, "seed": 1}
WITHOUT_KERNEL = 3  # the fast engine's version where it runs the attention as TensorFlow operations


@dataclass(frozen=True)
class Generation:
    continuations: list[str]  # the text after the prompt, one per sample
    finetune_seconds: float
    sample_seconds: float


class PromptTooLong(ValueError):
    def __init__(self, prompt_tokens: int, length: int, n_ctx: int):
        self.prompt_tokens, self.length, self.n_ctx = prompt_tokens, length, n_ctx
        super().__init__(
            f"the passage is {prompt_tokens} tokens; with {length} tokens to generate that is "
            f"{prompt_tokens + length}, more than the model's context of {n_ctx}"
            if prompt_tokens >= 2
            else "the passage is too short to prompt the model (fewer than 2 tokens)"
        )


def context_for(recipe: str, n_ctx: int) -> int:
    """How many tokens, prompt and sample together, a recipe can hold on a model."""
    return n_ctx if recipe == "fast" else min(n_ctx, SEED_CONTEXT)


def check_fits(prompt_tokens: int, length: int, context: int) -> None:
    """The one rule for a prompt: at least 2 tokens, and with the sample within the context."""
    if prompt_tokens < 2 or prompt_tokens + length > context:
        raise PromptTooLong(prompt_tokens, length, context)


class Engine(Protocol):
    """What generate and explore need of a recipe (fast and seed both provide it)."""

    recipe: str
    version: int  # VERSIONS[recipe] (the fast engine without its kernel: WITHOUT_KERNEL): recorded in every run
    platform: Platform  # what its runs are made on
    origin: Origin | None  # where its weights came from (``samples.origin``), recorded with every run
    on_stage: Callable[[str], None] | None  # told "finetuning", then "sampling", as ``generate`` goes on

    def encode(self, text: str) -> list[int]: ...
    def check_fits(self, prompt_tokens: int, length: int) -> None: ...
    def reset(self) -> None: ...  # back to the base weights
    def finetune(self, prompt: str, params: Params) -> None: ...  # fresh base weights, then params.finetune_steps steps
    def sample(self, prompt: str, params: Params, nsamples: int) -> list[str]: ...  # with the weights as they are
    def generate(self, prompt: str, params: Params, nsamples: int): ...  # finetune (or reset), then sample, timed
    def close(self) -> None: ...
