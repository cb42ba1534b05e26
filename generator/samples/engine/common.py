"""What both recipes share: their result type and their errors."""

from __future__ import annotations

from dataclasses import dataclass


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
