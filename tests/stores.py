"""Reading and forging an essay's sample store in tests (``generator/samples/store.py``): its
files' text, and its state as an earlier engine, machine or version would have left it.

Only tests write a store whole: the product appends through ``samples.record``."""

from __future__ import annotations

from pathlib import Path

from generator.content.layout import ContentLayout
from generator.fsutil import atomic_write_text
from generator.samples import store
from generator.samples.cache import SampleCache


def store_of(content: Path, slug: str) -> Path:
    return ContentLayout(content).samples(slug)


def store_text(path: Path) -> str:
    """Every file of the store, the legacy file included, one after another."""
    files = [store.legacy_file(path)] + (sorted(path.iterdir()) if path.is_dir() else [])
    return "".join(f.read_text("utf-8") for f in files if f.is_file() and not f.name.startswith("."))


def forge(path: Path, slug: str, cache: SampleCache) -> None:
    """Write ``cache`` as the store's files, as if its runs had been recorded that way."""
    for key, entry in cache.passages.items():
        atomic_write_text(store.passage_file(path, key), store.dump_passage(slug, key, entry))
    origins = {r.model_fingerprint: r.origin for e in cache.passages.values() for r in e.runs if r.origin}
    if origins:
        atomic_write_text(path / store.MODELS, store.dump_models(slug, origins))
