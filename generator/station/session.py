"""The station's state in the web process: the exhibit's settings, the examples,
the blocklist, the engine's queue, and the optional --keep file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..config import SiteConfig, named_essays_problems
from ..content.essays import Essay, Passage
from ..content.layout import ContentLayout
from ..errors import InputError
from ..samples.cache import Params
from ..samples.request import request_from
from ..samples.origin import Origin, model_label, of_folder
from ..site.exhibition import number_word
from .jobs import StationEngine, Visit
from .result import HIDDEN, runs_of, tamed_column, untamed_column, with_words
from .visitor import MAX_CHARS, Blocklist, Refused, visitor_passage

log = logging.getLogger(__name__)
MAX_EXAMPLES = 4


@dataclass(frozen=True)
class Example:
    essay: str  # its title
    passage: Passage
    cached: list[str]  # the sentences the exhibit picked for it
    cached_untamed: str  # an untamed sample from the exploration, when there is one


def untamed_params(config: SiteConfig) -> Params:
    """GPT-2 untamed: no fine-tuning, temperature 1.0, no top_k limit; the same length and seed."""
    g = config.generation
    return Params(1.0, 0, g.length, g.seed, 0, g.learning_rate, "passage")


def _examples(layout: ContentLayout, config: SiteConfig, essays: list[Essay], origins: dict[str, Origin]) -> list[Example]:
    from ..picks.resolve import verbosify
    from ..picks.store import load_picks
    from ..samples.store import load_cache

    by_slug = {e.slug: e for e in essays if not e.draft}
    named = named_essays_problems(config, {s: len(e.passages) for s, e in by_slug.items()}, {h.slug for h in layout.essays(drafts=True) if h.draft})
    named = [why for entry, why in named if entry in config.station.examples]
    if named:
        raise InputError(layout.site_toml, "; ".join(named))
    refs = config.station.examples or [f"{slug}:1" for slug in by_slug][:MAX_EXAMPLES]
    out = []
    for ref in refs:
        slug, n = ref.rsplit(":", 1)
        essay = by_slug[slug]
        passage = essay.passages[int(n) - 1]
        cache, _ = load_cache(layout.samples(slug), slug)
        picks, _ = load_picks(layout.picks(slug), slug)
        insertions = verbosify(essay, cache, picks, config.sentence_splitter).at(passage).insertions
        cached = [i.text for i in insertions]
        origins.update({i.run.model: i.run.origin for i in insertions if i.run.origin and i.run.model not in origins})
        untamed = ""
        explored, _ = load_cache(layout.explore(slug), slug)
        entry = explored.for_passage(passage.key)
        for run in entry.runs if entry else []:
            p = run.params
            if (p.temperature, p.top_k, p.finetune_steps) == (1.0, 0, 0) and run.samples:
                untamed = run.samples[0]
                break
        out.append(Example(essay.title, passage, cached, untamed))
    return out


class Station:
    def __init__(self, content: Path, models_dir: Path, model: str | None, keep: Path | None, token: str):
        from ..config import load_config
        from ..content import read_essays

        self.layout = ContentLayout(content)
        self.config = load_config(self.layout.site_toml)
        s = self.config.station
        self.blocklist = Blocklist.read(self.layout.content_file(s.blocklist, "station.blocklist") if s.blocklist else None)
        essays = read_essays(self.layout, passage_size=self.config.passage_size, splitter=self.config.sentence_splitter)
        self.cached_origins: dict[str, Origin] = {}  # model name -> the record the examples' runs keep
        self.examples = _examples(self.layout, self.config, essays, self.cached_origins)
        self.models_dir = models_dir
        self.model = model or self.config.generation.model
        self.keep = keep
        self.token = token
        self.hosts: set[str] | None = set()  # set once the port is bound (None: bound to every address)
        # what `generate` would run for the exhibit: its model, recipe, train_on, parameters and sample count
        self.request = request_from(self.config, models_dir, model=self.model)
        self.tamed = self.request.params
        self.untamed = untamed_params(self.config) if s.untamed else None
        self.engine = StationEngine(self.request, s.timeout_seconds, on_finish=self._finished, load_estimate=self._load_estimate())

    # -- what the page shows

    def _load_estimate(self) -> float:
        """About how long the worker takes to load the model, before it has loaded once: TensorFlow
        and the engine (15 s on 2 cores) and the weights (28.9 s in all for 124M's 0.5 GB)."""
        from ..samples.engine.checkpoint import Hparams

        try:
            return 15.0 + Hparams.read(self.models_dir / self.model).weight_bytes / 36e6
        except (OSError, ValueError, KeyError, TypeError):
            return 30.0

    @functools.cached_property
    def origin(self) -> Origin | None:
        """Where the station's model came from, read once: its folder's record, or, with no model
        here, the record the exhibit's samples keep for a model of that name (what the examples show)."""
        if self.missing() is None:
            try:
                return of_folder(self.models_dir / self.model)
            except (InputError, OSError, ValueError):
                return None
        return self.cached_origins.get(self.model)

    @property
    def sentences(self) -> str:
        """How many sentences a visitor may write, in words: the exhibit's passage size."""
        n = self.config.passage_size
        return f"{number_word(n)} sentence{'s' if n != 1 else ''}"

    max_chars = MAX_CHARS

    @property
    def model_label(self) -> str:
        return model_label(self.model, self.origin)

    @property
    def openai(self) -> bool:
        """Whether the record says the model is OpenAI's GPT-2 (the untamed column is then "GPT-2 untamed")."""
        return bool(self.origin and self.origin.openai_size)

    def missing(self) -> str | None:
        """Why no request can run (no model), saying how to get one; None when all is well."""
        from ..samples.engine.checkpoint import check_model

        try:
            check_model(self.models_dir, self.model)
        except InputError as exc:
            return (f"{exc}. Get one with `python build.py download-model 124M` (OpenAI's GPT-2), "
                    "`python build.py import-model PATH` or, offline, `python build.py train-demo-model`")
        return None

    def examples_payload(self) -> list[dict]:
        """The examples with the exhibit's own results, the blocklist applied to them as to any answer."""
        out = []
        for e in self.examples:
            shown = [t for t in e.cached if not self.blocklist.found(t)]
            untamed = untamed_column(e.cached_untamed, self.blocklist) if e.cached_untamed else {"text": "", "note": ""}
            out.append({"essay": e.essay, "text": e.passage.text, "words": e.passage.words, "cached": [with_words(t) for t in shown],
                        "cached_note": HIDDEN if len(shown) < len(e.cached) else "", "cached_untamed": untamed})
        return out

    # -- requests

    def submit(self, text: object) -> tuple[str, int, Visit | None]:
        """(message, HTTP status, visit): a queued visit, or why there is none."""
        try:
            passage = visitor_passage(text, sentences=self.config.passage_size, splitter=self.config.sentence_splitter, blocklist=self.blocklist)
        except Refused as exc:
            return str(exc), 400, None
        if self.missing():
            return "The station has no model to run, so it can show only the examples' cached results.", 503, None
        visit = self.engine.submit(passage.text, dataclasses.asdict(self.tamed), self.request.samples,
                                   dataclasses.asdict(self.untamed) if self.untamed else None, context=passage)
        visit.result["words"] = passage.words
        return "", 202, visit

    def status(self, vid: str) -> dict | None:
        visit = self.engine.visit(vid)
        if visit is None:
            return None
        stage = visit.stage
        if visit.result.get("failed"):
            stage = "error"
        elif stage == "done" and "view" not in visit.result:
            stage = "sampling"  # the columns are being put together (and kept, with --keep)
        out = {"stage": stage, "message": visit.message, "ahead": self.engine.ahead_of(visit),
               "progress": self.engine.progress(visit) if stage != "done" else 1.0, "passage": visit.passage,
               "words": visit.result.get("words", 0)}
        if stage == "loading":
            out["about"] = round(self.engine.load_estimate())
        if "untamed" in visit.result and self.untamed is not None:
            out["untamed"] = untamed_column(visit.result["untamed"], self.blocklist)
        if stage == "done":
            out.update(visit.result["view"])
        return out

    def _finished(self, visit: Visit) -> None:
        """Put the columns together once, keep the request when --keep asks for it, then show them."""
        view = {}
        if visit.stage == "done":
            passage = visit.context
            origin = visit.result.get("origin")
            runs = runs_of(visit.result.get("runs", []), Origin.from_dict(origin) if origin else None)
            visit.result["samples"] = [x for run in runs for x in run.samples]
            view = {"tamed": tamed_column(passage, runs, splitter=self.config.sentence_splitter, blocklist=self.blocklist)}
        if self.keep is not None:
            self._keep(visit, view)
        if view:
            visit.result["view"] = view

    def _keep(self, visit: Visit, view: dict) -> None:
        from ..locking import append_line

        shown = {"tamed": [s["text"] for s in view.get("tamed", {}).get("sentences", [])]}
        if self.untamed is not None and "untamed" in visit.result:
            shown["untamed"] = untamed_column(visit.result["untamed"], self.blocklist)["text"]
        line = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "input": visit.passage, "model": self.model,
                "stage": visit.stage, "shown": shown, "message": visit.message}
        try:
            append_line(self.keep, json.dumps(line, ensure_ascii=False))
        except (OSError, InputError) as exc:
            log.error("could not keep request %s in %s: %s", visit.id, self.keep, exc)

    def close(self) -> None:
        self.engine.close()
