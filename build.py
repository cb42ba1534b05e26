#!/usr/bin/env python3
"""Verbosified Space Rovers: `python build.py --help`.

Parses arguments and wires the pipeline's stages; the work lives in generator/.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from generator.errors import InputError

PROJECT = Path(__file__).resolve().parent
log = logging.getLogger("vsr")


class _Formatter(logging.Formatter):
    """Plain progress lines; warnings and errors say what they are."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        return msg if record.levelno == logging.INFO else f"{record.levelname.lower()}: {msg}"


def _content_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", type=Path, default=PROJECT / "content", help="content folder (default: %(default)s)")


def _loudness(p: argparse.ArgumentParser) -> None:
    loud = p.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="store_true", help="say more")
    loud.add_argument("-q", "--quiet", action="store_true", help="only errors, no progress bar")


def _server_options(p: argparse.ArgumentParser, port: int) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=port, help="port (default: %(default)s; 0 picks a free one)")


def _site_options(p: argparse.ArgumentParser) -> None:
    _content_option(p)
    p.add_argument("--output", type=Path, default=PROJECT / "output", help="output folder (default: %(default)s)")
    p.add_argument("--templates", type=Path, default=PROJECT / "site_templates", help=argparse.SUPPRESS)
    p.add_argument("--base-url", dest="base_url", metavar="URL", help="where the site will live, overriding site.toml's base_url "
                   "(a GitHub Pages project site: https://USER.github.io/REPO/)")
    _loudness(p)


def _paths(args):
    from generator.site.builder import Paths

    return Paths(content=args.content, output=args.output, templates=args.templates, project=PROJECT)


def _layout(args):
    from generator.content.layout import ContentLayout

    return ContentLayout(args.content)


def cmd_build(args, drafts: bool | None = None, artist: bool = False) -> int:
    from generator.site.builder import Options, build

    start = time.perf_counter()
    report = build(_paths(args), Options(drafts=args.drafts if drafts is None else drafts, base_url=args.base_url, artist=artist))
    log.info(
        "built %s: %d essay page(s) rendered, %d unchanged, %d file(s) written, %d removed, %d warning(s) in %.2f s",
        args.output,
        report.essays_rendered,
        report.essays_reused,
        report.written,
        report.removed,
        len(report.warnings),
        time.perf_counter() - start,
    )
    return 0


def cmd_book(args) -> int:
    from generator.site.builder import Options, build

    if args.essay:
        drafts = [h.slug for h in _layout(args).essays(only=args.essay) if h.draft]  # each must name an essay
        if drafts:
            raise InputError(None, f"{', '.join(drafts)}: a draft (Status: draft) has no book; publish it first")
    formats = ("epub", "pdf") if args.format == "both" else (args.format,)
    start = time.perf_counter()
    report = build(_paths(args), Options(base_url=args.base_url, books=formats, book_essays=tuple(args.essay) if args.essay else None))
    log.info("built %s with the books (%s): %d essay page(s) rendered, %d unchanged, %d file(s) written in %.2f s",
             args.output, ", ".join(formats), report.essays_rendered, report.essays_reused, report.written, time.perf_counter() - start)
    return 0


def cmd_serve(args) -> int:
    from generator.site.serve import serve

    cmd_build(args, drafts=True, artist=True)

    def rebuild() -> None:
        try:
            cmd_build(args, drafts=True, artist=True)
        except InputError as exc:
            log.error("%s (still serving the previous build)", exc)

    serve(args.output.resolve(), args.host, args.port, [args.content, args.templates], rebuild)
    return 0


def cmd_kiosk(args) -> int:
    from generator.gallery.kiosk import browse_url, browser_command, find_browser, kiosk_site, kiosk_station, printable

    browser = find_browser(args.browser)
    port = args.port if args.port is not None else 8002 if args.station else 8000
    if args.dry_run:
        print(printable(browser_command(browser, browse_url(args.host, port) + ("" if args.station else "exhibition/"))))
        return 0
    if args.station:
        try:
            from generator.station.serve import StationOptions
        except ImportError as exc:
            raise _missing("the station", exc) from None

        kiosk_station(StationOptions(content=args.content, models_dir=args.models_dir, model=args.model, keep=args.keep, host=args.host, port=port), browser)
        return 0
    cmd_build(args)
    kiosk_site(args.output.resolve(), args.host, port, browser)
    return 0


def _missing(part: str, exc: ImportError) -> InputError:
    """A module the studio's lines of requirements.txt install is not there: named as itself."""
    return InputError(None, f"{part} needs the Python module '{exc.name or exc}', which is not installed; install the lines of "
                            "requirements.txt marked site and studio: grep -E '^[^#].*#.*\\b(site|studio)\\b' requirements.txt "
                            "| sed 's/ *#.*//' | python3 -m pip install -r /dev/stdin")


def cmd_station(args) -> int:
    try:
        from generator.station.serve import StationOptions, serve
    except ImportError as exc:
        raise _missing("the station", exc) from None

    serve(StationOptions(content=args.content, models_dir=args.models_dir, model=args.model, keep=args.keep, host=args.host, port=args.port))
    return 0


def cmd_clean(args) -> int:
    from generator.site import writer

    out = writer.check_output_dir(args.output, project=PROJECT, protected=[args.content, args.templates, PROJECT / "generator"])
    log.info("removed %s" if writer.clean(out) else "nothing to remove at %s", out)
    return 0


def cmd_check(args) -> int:
    from generator.check import check

    problems = check(_layout(args), templates=args.templates, models=args.models_dir)
    for p in problems:
        (log.error if p.error else log.info if p.note else log.warning)("%s", p)
    errors, notes = sum(p.error for p in problems), sum(p.note for p in problems)
    log.info("checked %s: %d error(s), %d warning(s), %d note(s) on runs not reproducible here", args.content, errors,
             len(problems) - errors - notes, notes)
    return 1 if errors else 0


def _config(args):
    from generator.config import load_config

    return load_config(_layout(args).site_toml)


def _positive(text: str) -> int:
    """A whole number from 1 (argparse's type: anything else is a usage error naming the option)."""
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number from 1, got {text!r}")
    return int(text)


def _essays(args, config):
    from generator.content import read_essays

    return read_essays(_layout(args), passage_size=config.passage_size, splitter=config.sentence_splitter, only=args.essay)


def cmd_generate(args) -> int:
    from generator.samples.generate import generate
    from generator.samples.request import request_from

    config = _config(args)
    request = request_from(
        config,
        args.models_dir,
        model=args.model,
        recipe=args.recipe,
        samples=args.samples,
        temperature=args.temperature,
        top_k=args.top_k,
        length=args.length,
        seed=args.seed,
        finetune_steps=args.finetune_steps,
        learning_rate=args.learning_rate,
        train_on=args.train_on,
        force=args.force,
    )
    essays, layout = _essays(args, config), _layout(args)
    if args.ray:
        from generator.samples.cluster import generate_on_ray

        summary = generate_on_ray(essays, layout.samples, request, address=args.ray, workers=args.workers, threads=args.threads,
                                  progress=not args.quiet, explore_path=layout.explore)
    else:
        if args.workers:
            raise InputError(None, "--workers is for --ray: one process is one worker")
        summary = generate(essays, layout.samples, request, progress=not args.quiet, explore_path=layout.explore, threads=args.threads)
    if summary is None:
        log.info("nothing to do: every passage already holds its samples for %s, %s recipe, these parameters (--force to redo)", request.model, request.recipe)
        return 0
    log.info(
        "generated %d passage(s), skipped %d already done; %d run(s), %d escalated; %.1f s per passage (fine-tune %.1f s, sampling %.1f s in all)",
        summary.generated,
        summary.skipped,
        summary.runs,
        summary.escalated,
        summary.seconds_per_passage,
        summary.finetune_seconds,
        summary.sample_seconds,
    )
    for short in summary.short:
        log.warning("%s: fewer usable samples than asked for, even after escalation", short)
    return 0


def cmd_explore(args) -> int:
    from generator.content import read_essays
    from generator.samples import explore
    from generator.samples.request import request_from

    config = _config(args)
    request = request_from(config, args.models_dir, model=args.model)
    essays = read_essays(_layout(args), passage_size=config.passage_size, splitter=config.sentence_splitter)
    targets = explore.choose(essays, list(config.explore), args.essay, args.passage)
    summary = explore.explore(targets, _layout(args), request, progress=not args.quiet)
    log.info("explored %d passage(s): %d cell(s) sampled, %d already there, %.0f s", len(targets), summary.cells, summary.skipped, summary.seconds)
    return 0


def _model_name(value: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a model folder name (letters, digits, '.', '_', '-')")
    return value


def cmd_download_model(args) -> int:
    from generator.samples.engine.download import OPENAI_BASE, download

    params = download(args.models_dir, args.name, args.base_url or OPENAI_BASE, progress=not args.quiet)
    log.info("GPT-2 %s is in %s (%s parameters, verified)", args.name, args.models_dir / args.name, f"{params:,}")
    return 0


def cmd_import_model(args) -> int:
    from generator.samples.engine.hf_import import from_hub, import_model

    if (args.path is None) == (args.from_hub is None):
        raise InputError(None, "give a Hugging Face model folder (PATH) or --from-hub REPO_ID, one of the two")
    source = from_hub(args.from_hub) if args.from_hub else args.path
    try:
        name = args.name or _model_name((args.from_hub or "").rsplit("/", 1)[-1] or args.path.resolve().name)
    except argparse.ArgumentTypeError as exc:
        raise InputError(None, f"{exc}; give one with --name") from None
    hp = import_model(source, args.models_dir, name)
    log.info(
        "imported %s into %s: %d layers, %d wide, %d heads, context %d, vocabulary %d (verified); use it with --model %s",
        args.from_hub or args.path, args.models_dir / name, hp.n_layer, hp.n_embd, hp.n_head, hp.n_ctx, hp.n_vocab, name,
    )
    return 0


def cmd_train_demo_model(args) -> int:
    from generator.samples.engine.demo import TrainingPlan, train

    config = _config(args)
    essays = _essays(args, config)
    texts = ["\n\n".join(p.text for p in e.passages) for e in essays]
    plan = TrainingPlan(steps=args.steps, seed=args.seed)
    folder = args.models_dir / "demo"
    figures = train(texts, folder, plan, progress=not args.quiet, trained_on="the essays " + ", ".join(e.slug for e in essays))
    log.info(
        "trained the demo model on %d tokens in %.0f s (loss %.2f -> %.2f) into %s",
        figures["tokens"],
        figures["seconds"],
        figures["first_loss"],
        figures["final_loss"],
        folder,
    )
    return 0


def cmd_pick(args) -> int:
    try:
        from generator.picks.commands import pick_essay
    except ImportError as exc:
        raise _missing("pick", exc) from None

    config = _config(args)
    for essay in _essays(args, config):
        r = pick_essay(_layout(args), config, essay, ratio=args.ratio, force=args.force)
        empty = ", ".join(map(str, r.empty_passages)) or "none"
        log.info(
            "%s: %d -> %d words (x%.2f), mean on-topic score %.2f, passages with nothing usable: %s",
            essay.slug,
            r.original_words,
            r.verbosified_words,
            r.ratio,
            r.mean_score,
            empty,
        )
    return 0


def cmd_stats(args) -> int:
    import json

    from generator.picks.commands import essay_stats

    config = _config(args)
    rows = [essay_stats(_layout(args), config, e).as_dict() for e in _essays(args, config)]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    cols = ["slug", "passages", "passages_with_samples", "passages_with_picks", "original_words", "verbosified_words", "ratio", "stale_picks"]
    heads = ["essay", "passages", "with samples", "with picks", "original", "verbosified", "ratio", "stale"]
    table = [heads] + [[str(r[c]) if c != "ratio" else f"{r[c]:.2f}" for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    for row in table:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    return 0


def cmd_studio(args) -> int:
    try:
        from generator.studio.serve import StudioOptions, serve
    except ImportError as exc:
        raise _missing("the studio", exc) from None

    serve(StudioOptions(content=args.content, models_dir=args.models_dir, model=args.model, ratio=args.ratio, preview=args.preview,
                        templates=args.templates, project=PROJECT, host=args.host, port=args.port))
    return 0


def _station_options(p: argparse.ArgumentParser) -> None:
    if not any(a.dest == "models_dir" for a in p._actions):
        p.add_argument("--models-dir", type=Path, default=PROJECT / "models", help="where models live (default: %(default)s)")
    p.add_argument("--model", help="model folder name under --models-dir (default: site.toml's [generation] model)")
    p.add_argument("--keep", type=Path, metavar="FILE", help="append each visitor's request and what was shown to FILE (default: nothing is stored)")


def _model_options(p: argparse.ArgumentParser) -> None:
    _content_option(p)
    p.add_argument("--models-dir", type=Path, default=PROJECT / "models", help="where models live (default: %(default)s)")
    _loudness(p)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="build.py",
        description="Verbosified Space Rovers: essays + GPT-2 samples -> an exhibit website. With no command, `build`.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("build", help="render content/ into output/ (the default)", description="Render content/ into output/.")
    _site_options(b)
    b.add_argument("--drafts", action="store_true", help="render essays marked Status: draft too")
    b.set_defaults(func=cmd_build)
    bk = sub.add_parser("book", help="build the site with each essay's book: output/book/<slug>.epub and .pdf, linked from its page",
                        description="Build the site with the verbosified text of each essay as a book: an EPUB (ebooklib) and a PDF "
                        "(printed by Chromium), written to output/book/ and linked from the essay's page. Later builds keep them "
                        "while the essay, its samples and picks are unchanged.")
    _site_options(bk)
    bk.add_argument("--essay", action="append", metavar="SLUG", help="only this essay's book (repeatable)")
    bk.add_argument("--format", choices=["epub", "pdf", "both"], default="both", help="(default: %(default)s)")
    bk.set_defaults(func=cmd_book)
    s = sub.add_parser("serve", help="build, serve output/ and rebuild on change", description="Build, serve output/ over HTTP and rebuild when content/ or site_templates/ change.")
    _site_options(s)
    _server_options(s, 8000)
    s.set_defaults(func=cmd_serve)
    ks = sub.add_parser(
        "kiosk",
        help="build, serve output/ on 127.0.0.1 and keep Chromium full-screen on the exhibition loop",
        description="For a gallery screen: build the site, serve output/ on 127.0.0.1 and run Chromium in kiosk mode "
        "on exhibition/ with a fresh profile, starting it again (with a back-off) whenever it exits. Ctrl-C stops both.",
    )
    _site_options(ks)
    ks.add_argument("--host", default="127.0.0.1", help="address to listen on, as for serve, the studio and the station (default: %(default)s)")
    ks.add_argument("--port", type=int, help="port (default: 8000, or 8002 with --station; 0 picks a free one)")
    ks.add_argument("--browser", type=Path, metavar="PATH", help="the browser to run (default: chromium from PATH)")
    ks.add_argument("--dry-run", action="store_true", dest="dry_run", help="print the browser's command line; build and serve nothing")
    ks.add_argument("--station", action="store_true", help="open the live station (python build.py station) instead of the exhibition loop")
    _station_options(ks)
    ks.add_argument("--drafts", action="store_true", help=argparse.SUPPRESS)
    ks.set_defaults(func=cmd_kiosk)
    c = sub.add_parser("clean", help="remove output/ and its build cache", description="Remove output/ and its build cache.")
    _site_options(c)
    c.set_defaults(func=cmd_clean)
    ck = sub.add_parser(
        "check",
        help="validate content/ as the build would, without writing anything",
        description="Check site.toml, every essay's meta-data, slugs, links and images, the sample caches and the picks. "
        "Lists every problem with file and line; exit 1 if any is an error, 0 for warnings only.",
    )
    _content_option(ck)
    ck.add_argument("--templates", type=Path, default=PROJECT / "site_templates", help=argparse.SUPPRESS)
    ck.add_argument("--models-dir", type=Path, default=PROJECT / "models",
                    help="where models live: runs whose model is not there, or that were made on another platform, are noted (default: %(default)s)")
    _loudness(ck)
    ck.set_defaults(func=cmd_check)

    g = sub.add_parser(
        "generate",
        help="fine-tune and sample GPT-2 for every passage without samples (imports TensorFlow)",
        description="For every passage with no samples for this model, recipe and parameters: fine-tune one step on it, "
        "sample continuations, write them to content/samples/ at once. Defaults come from content/site.toml [generation].",
    )
    _model_options(g)
    g.add_argument("--essay", action="append", metavar="SLUG", help="only this essay (repeatable)")
    g.add_argument("--model", help="model folder name under --models-dir, e.g. 124M or demo")
    g.add_argument("--samples", type=int, help="samples per passage")
    g.add_argument("--recipe", choices=["fast", "seed"], help="fast (one graph, in memory) or seed (the notebook's method)")
    g.add_argument("--temperature", type=float)
    g.add_argument("--top-k", type=int, dest="top_k")
    g.add_argument("--length", type=int, help="tokens per sample")
    g.add_argument("--seed", type=int)
    g.add_argument("--finetune-steps", type=int, dest="finetune_steps")
    g.add_argument("--learning-rate", type=float, dest="learning_rate")
    g.add_argument("--train-on", choices=["passage", "window"], dest="train_on",
                   help="what a fine-tune step sees: the passage's own tokens (fast's default) or exactly gpt-2-simple's "
                   "finetune() data, five 1024-token windows of the passage pasted end to end (the seed recipe's)")
    g.add_argument("--force", action="store_true", help="generate even where samples exist")
    g.add_argument("--ray", nargs="?", const="local", metavar="auto|ADDRESS",
                   help="spread the passages over Ray workers: alone, a Ray cluster on this machine; auto, the cluster "
                   "`ray start` runs here; ADDRESS, one elsewhere (needs the optional ray requirement)")
    g.add_argument("--workers", type=_positive, metavar="N", help="with --ray: how many engines (default: one a CPU here, or a CPU "
                   "of the cluster's for each --threads)")
    g.add_argument("--threads", type=_positive, metavar="T", help="each engine's threads (default: this machine's CPUs, shared among "
                   "its workers; 1 on a cluster joined with an address); samples are the same bytes for the same thread count")
    g.set_defaults(func=cmd_generate)

    x = sub.add_parser(
        "explore",
        help="sample the temperature x top_k x fine-tuning grid for a few passages (imports TensorFlow)",
        description="For the passages in site.toml's `explore` (default: each essay's first), sample every temperature "
        "(0.2 0.5 0.8 1.0) x top_k (0 30 40 80) x fine-tuning (none, 1 step, 5 steps) cell into content/samples/explore/. Resumable.",
    )
    _model_options(x)
    x.add_argument("--essay", metavar="SLUG", help="explore this essay's passage (with --passage)")
    x.add_argument("--passage", type=int, metavar="N", help="1-based passage number")
    x.add_argument("--model", help="model folder name under --models-dir")
    x.set_defaults(func=cmd_explore)

    d = sub.add_parser(
        "download-model",
        help="fetch an OpenAI GPT-2 checkpoint into models/ (needs the network)",
        description="Fetch a GPT-2 checkpoint in gpt-2-simple's layout (<base>/models/<name>/<file>): timeouts, retries, "
        "resumed downloads, every size checked, then the checkpoint verified. models/<name> appears only when all is well.",
    )
    d.add_argument("name", nargs="?", default="124M", type=_model_name, help="124M, 355M, 774M, 1558M or another model the server holds (default: %(default)s)")
    d.add_argument("--base-url", help="where the models/ folder is served (default: OpenAI's bucket)")
    d.add_argument("--models-dir", type=Path, default=PROJECT / "models", help="(default: %(default)s)")
    _loudness(d)
    d.set_defaults(func=cmd_download_model)

    im = sub.add_parser(
        "import-model",
        help="convert a Hugging Face GPT-2 folder into a model every command loads",
        description="Convert a Hugging Face GPT-2 (config.json, model.safetensors or pytorch_model.bin, vocab.json, merges.txt, "
        "as save_pretrained writes it, or an entry of the local Hugging Face cache) into models/NAME in gpt-2-simple's layout, "
        "then verify it. Anything that is not GPT-2's architecture is refused.",
    )
    im.add_argument("path", nargs="?", type=Path, help="the model folder")
    im.add_argument("--from-hub", metavar="REPO_ID", help="fetch it from the Hugging Face hub first (needs the network and huggingface_hub)")
    im.add_argument("--name", type=_model_name, help="folder name under --models-dir (default: the folder's or repository's name)")
    im.add_argument("--models-dir", type=Path, default=PROJECT / "models", help="(default: %(default)s)")
    _loudness(im)
    im.set_defaults(func=cmd_import_model)

    t = sub.add_parser(
        "train-demo-model",
        help="train the small offline demo GPT-2 on the essays into models/demo",
        description="Train a small GPT-2 from scratch, seeded, on the exhibit's essays, in gpt-2-simple's checkpoint layout.",
    )
    _model_options(t)
    t.add_argument("--steps", type=int, default=350, help="training steps (default: %(default)s)")
    t.add_argument("--seed", type=int, default=2019, help="(default: %(default)s)")
    t.add_argument("--essay", action="append", metavar="SLUG", help=argparse.SUPPRESS)
    t.set_defaults(func=cmd_train_demo_model)

    k = sub.add_parser(
        "pick",
        help="choose generated sentences until each essay reaches --ratio",
        description="Choose sentences from the sample cache, on topic and not copies, until each essay is --ratio times "
        "its length; writes content/picks/. Manual entries (without auto = true) are kept unless --force.",
    )
    _content_option(k)
    k.add_argument("--essay", action="append", metavar="SLUG", help="only this essay (repeatable)")
    k.add_argument("--ratio", type=float, default=2.0, help="target verbosified/original word ratio (default: %(default)s)")
    k.add_argument("--force", action="store_true", help="replace manual picks too")
    _loudness(k)
    k.set_defaults(func=cmd_pick)

    st = sub.add_parser("stats", help="word counts per essay, as the site shows them", description="Per essay: passages, samples, picks, word counts and ratio.")
    _content_option(st)
    st.add_argument("--essay", action="append", metavar="SLUG", help="only this essay (repeatable)")
    st.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    _loudness(st)
    st.set_defaults(func=cmd_stats)

    sd = sub.add_parser(
        "studio",
        help="curate in the browser: accept, reject, reorder, ask for more samples, preview the page",
        description="A local web application for curating the picks: every decision is saved to content/picks/ at once, "
        "more samples come from the engine in a worker process, and the preview is the essay page as it will be published.",
    )
    _model_options(sd)
    _server_options(sd, 8001)
    sd.add_argument("--model", help="model folder name under --models-dir for more samples (default: site.toml's)")
    sd.add_argument("--ratio", type=float, default=2.0, help="the target length, times the original (default: %(default)s)")
    sd.add_argument("--preview", type=Path, default=PROJECT / ".vsr-studio" / "preview", help="where the preview site is built (default: %(default)s)")
    sd.add_argument("--templates", type=Path, default=PROJECT / "site_templates", help=argparse.SUPPRESS)
    sd.set_defaults(func=cmd_studio)

    sn = sub.add_parser(
        "station",
        help="a gallery screen where visitors verbosify their own words, live (the engine in a worker)",
        description="A local web application for a gallery screen: a visitor writes up to three sentences and sees them "
        "verbosified as the piece does it (one fine-tune step, the [generation] settings, auto-pick) beside GPT-2 untamed. "
        "Nothing a visitor writes is stored unless --keep is given.",
    )
    _content_option(sn)
    _loudness(sn)
    _server_options(sn, 8002)
    _station_options(sn)
    sn.set_defaults(func=cmd_station)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = parser()
    commands = set(p._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help")):
        argv.insert(0, "build")
    args = p.parse_args(argv)
    level = logging.DEBUG if getattr(args, "verbose", False) else logging.ERROR if getattr(args, "quiet", False) else logging.INFO
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    try:
        return args.func(args)
    except InputError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
