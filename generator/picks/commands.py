"""The pick and stats commands' work: read an essay's files, run curation or count, write picks."""

from __future__ import annotations

import logging
from ..config import SiteConfig
from ..content.essays import Essay
from ..content.layout import ContentLayout
from ..errors import InputError
from ..samples.cache import SampleCache
from ..samples.store import load_cache
from .writes import update_picks
from .auto import PickReport, auto_pick
from .candidates import resolve_ref
from .resolve import EssayStats, verbosify
from .store import Picks, load_picks, parse_picks, render_picks

log = logging.getLogger(__name__)


def pick_essay(files: ContentLayout, config: SiteConfig, essay: Essay, *, ratio: float, force: bool) -> PickReport:
    """Auto-pick one essay: read, pick and write its picks file in one transaction, so a
    decision the studio writes meanwhile is never lost."""
    cache, warning = load_cache(files.samples(essay.slug), essay.slug)
    if warning:
        raise InputError(None, f"nothing to pick from until the samples can be read: {warning}")
    path = files.picks(essay.slug)
    reports: list[PickReport] = []

    def change(text: str | None) -> str:
        try:
            picks, warnings = parse_picks(text, essay.slug, path) if text is not None else (Picks(essay.slug), [])
        except (ValueError, UnicodeDecodeError) as exc:  # tomllib's TOMLDecodeError is a ValueError
            raise InputError(path, f"the picks file is unreadable ({exc}); fix it (or move it away) before picking, so no hand edit is lost") from None
        for w in warnings:
            log.warning("%s", w)
        new, report = auto_pick(essay, cache, picks, ratio=ratio, force=force, splitter=config.sentence_splitter)
        reports.append(report)
        return picks_text(text, config, essay, cache, new)

    update_picks(path, change)
    return reports[-1]


def picks_text(existing: str | None, config: SiteConfig, essay: Essay, cache: SampleCache, picks: Picks) -> str:
    """The essay's picks file holding ``picks``: ``existing`` edited in place (every entry
    that did not change keeps its bytes), each pick with its preview comment."""
    sentences = {}
    for key, entry in picks.passages.items():
        samples = cache.for_passage(key)
        for ref in entry.refs + entry.rejected:
            run = samples.run(ref.run) if samples else None
            cand = resolve_ref(run, ref, config.sentence_splitter) if run else None
            if cand:
                sentences[(key, str(ref))] = cand.text
    return render_picks(existing, picks, title=essay.title, passages={p.key: p.text for p in essay.passages}, sentences=sentences)


def essay_stats(files: ContentLayout, config: SiteConfig, essay: Essay) -> EssayStats:
    """The same numbers the site shows: computed by the same resolution."""
    cache, warning = load_cache(files.samples(essay.slug), essay.slug)
    picks, warnings = load_picks(files.picks(essay.slug), essay.slug)
    verbosified = verbosify(essay, cache, picks, config.sentence_splitter)
    for w in ([warning] if warning else []) + warnings + [str(s) for s in verbosified.stale]:
        log.warning("%s", w)
    return verbosified.stats
