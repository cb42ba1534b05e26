"""Writer processes for the kill test: each runs the project's own writing code in a loop
(``record`` as generate, explore and the studio's worker call it; ``pick_essay``; the
studio's decisions) and appends a line to a report file after each write it finished.
They never stop by themselves: the test kills them."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path


def report(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def samples_writer(content: Path, reports: Path, seed: int) -> None:
    from generator.config import load_config
    from generator.content.essays import parse_essay
    from generator.content.layout import ContentLayout
    from generator.samples.cache import Params, Run
    from generator.samples.record import record

    layout = ContentLayout(content)
    config = load_config(layout.site_toml)
    essay = parse_essay(layout.essays_dir / "alpha.md", passage_size=config.passage_size, splitter=config.sentence_splitter)
    rng = random.Random(seed)
    while True:
        passage = rng.choice(essay.passages)
        params = Params(temperature=0.8, top_k=30, length=20, seed=rng.randrange(1 << 30), finetune_steps=1, learning_rate=1e-4)
        samples = tuple(f" Sample {rng.random():.6f} of the killed writer." for _ in range(rng.randint(1, 4)))
        done = record(layout.samples("alpha"), "alpha", passage, [Run("killer", "sha256:killer", "fast", params, samples)])
        report(reports, f"run {passage.key} {done.runs[0].id}")


def decision_writer(content: Path, journal: Path, reports: Path, decisions: list[tuple[str, str, str]]) -> None:
    """The studio's decisions, each on a candidate no earlier one of this process touched."""
    from generator.studio.session import Studio

    studio = Studio(content, journal=journal)
    for key, candidate, action in decisions:
        studio.decide("alpha", action, key, candidate)
        report(reports, f"decision {key} {candidate} {action}")
    while True:
        time.sleep(1)


def pick_writer(content: Path, reports: Path, ratio: float) -> None:
    from generator.config import load_config
    from generator.content.essays import parse_essay
    from generator.content.layout import ContentLayout
    from generator.picks.commands import pick_essay

    layout = ContentLayout(content)
    config = load_config(layout.site_toml)
    essay = parse_essay(layout.essays_dir / "alpha.md", passage_size=config.passage_size, splitter=config.sentence_splitter)
    while True:
        pick_essay(layout, config, essay, ratio=ratio, force=False)
        report(reports, "pick")
