"""The pick and stats commands' work: read an essay's files, run curation or count, write picks."""

from __future__ import annotations

import logging
from ..config import SiteConfig
from ..content.essays import Essay
from ..content.layout import ContentLayout
from ..errors import InputError
from ..samples.cache import SampleCache, load_cache
from .auto import PickReport, auto_pick
from .candidates import resolve_ref
from .resolve import EssayStats, verbosify
from .store import Picks, load_picks, write_picks

log = logging.getLogger(__name__)


def pick_essay(files: ContentLayout, config: SiteConfig, essay: Essay, *, ratio: float, force: bool) -> PickReport:
    cache, warning = load_cache(files.samples(essay.slug), essay.slug)
    if warning:
        raise InputError(files.samples(essay.slug), "the sample cache is unreadable; nothing to pick from")
    picks, warnings = load_picks(files.picks(essay.slug), essay.slug)
    if any("unreadable" in w for w in warnings):
        raise InputError(files.picks(essay.slug), "the picks file is unreadable; fix it (or move it away) before picking, so no hand edit is lost")
    for w in warnings:
        log.warning("%s", w)
    new, report = auto_pick(essay, cache, picks, ratio=ratio, force=force, splitter=config.sentence_splitter)
    save_picks(files, config, essay, cache, new)
    return report


def save_picks(files: ContentLayout, config: SiteConfig, essay: Essay, cache: SampleCache, picks: Picks) -> None:
    """Write ``picks`` as the essay's picks file, each entry with its preview comments."""
    sentences = {}
    for key, entry in picks.passages.items():
        samples = cache.for_passage(key)
        for ref in entry.refs + entry.rejected:
            run = samples.run(ref.run) if samples else None
            cand = resolve_ref(run, ref, config.sentence_splitter) if run else None
            if cand:
                sentences[(key, str(ref))] = cand.text
    write_picks(files.picks(essay.slug), picks, title=essay.title, passages={p.key: p.text for p in essay.passages}, sentences=sentences)


def essay_stats(files: ContentLayout, config: SiteConfig, essay: Essay) -> EssayStats:
    """The same numbers the site shows: computed by the same resolution."""
    cache, warning = load_cache(files.samples(essay.slug), essay.slug)
    picks, warnings = load_picks(files.picks(essay.slug), essay.slug)
    verbosified = verbosify(essay, cache, picks, config.sentence_splitter)
    for w in ([warning] if warning else []) + warnings + [str(s) for s in verbosified.stale]:
        log.warning("%s", w)
    return verbosified.stats
