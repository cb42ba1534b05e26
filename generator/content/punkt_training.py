"""Make punkt_params.json: Punkt's orthographic statistics, learnt from essays.

    python -m generator.content.punkt_training content/essays/*.md

Run it only on purpose: new parameters can move sentence boundaries, and so
change passage keys and orphan cached samples.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .essays import read_essay_source
from .sentences import ABBREVIATIONS, PARAMS_FILE, punkt_module


def train(texts: list[str]) -> dict:
    """Learn Punkt parameters from plain texts."""
    trainer = punkt_module().PunktTrainer()
    trainer.INCLUDE_ALL_COLLOCS = False
    for text in texts:
        trainer.train(text, finalize=False)
    trainer.finalize_training()
    p = trainer.get_params()
    # Abbreviations learnt from a few thousand words are unreliable ("ago." gave
    # "go"): keep only the curated list, and learn the orthographic statistics.
    return {
        "abbrev_types": sorted(p.abbrev_types & ABBREVIATIONS),
        "collocations": sorted(list(c) for c in p.collocations),
        "sent_starters": sorted(p.sent_starters),
        "ortho_context": dict(sorted(p.ortho_context.items())),
    }


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    data = train([read_essay_source(Path(p))[1] for p in argv])
    PARAMS_FILE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {PARAMS_FILE} ({len(data['ortho_context'])} words)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
