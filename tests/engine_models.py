"""Tiny GPT-2 checkpoints in gpt-2-simple's format, trained inside the tests in seconds."""

from __future__ import annotations

from pathlib import Path

from generator.samples.engine.checkpoint import Hparams

MERGES = 300
TINY = Hparams(n_vocab=256 + MERGES + 1, n_ctx=1024, n_embd=32, n_head=2, n_layer=2)


def train_tiny(folder: Path, texts: list[str], steps: int, seed: int = 1, learning_rate: float = 1e-2) -> Path:
    from generator.samples.engine.demo import TrainingPlan, train

    plan = TrainingPlan(hparams=TINY, merges=MERGES, steps=steps, batch_size=4, window=64, learning_rate=learning_rate, warmup=5, seed=seed)
    train(texts, folder, plan, progress=False)
    return folder
