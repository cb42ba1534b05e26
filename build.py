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


def _site_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", type=Path, default=PROJECT / "content", help="content folder (default: %(default)s)")
    p.add_argument("--output", type=Path, default=PROJECT / "output", help="output folder (default: %(default)s)")
    p.add_argument("--templates", type=Path, default=PROJECT / "site_templates", help=argparse.SUPPRESS)
    loud = p.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="store_true", help="say more")
    loud.add_argument("-q", "--quiet", action="store_true", help="only errors")


def _paths(args):
    from generator.site.builder import Paths

    return Paths(content=args.content, output=args.output, templates=args.templates, project=PROJECT)


def cmd_build(args) -> int:
    from generator.site.builder import build

    start = time.perf_counter()
    report = build(_paths(args))
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


def cmd_serve(args) -> int:
    from generator.site.serve import serve

    cmd_build(args)

    def rebuild() -> None:
        try:
            cmd_build(args)
        except InputError as exc:
            log.error("%s (still serving the previous build)", exc)

    serve(args.output.resolve(), args.host, args.port, [args.content, args.templates], rebuild)
    return 0


def cmd_clean(args) -> int:
    from generator.site import writer

    out = writer.check_output_dir(args.output, project=PROJECT, protected=[args.content, args.templates, PROJECT / "generator"])
    log.info("removed %s" if writer.clean(out) else "nothing to remove at %s", out)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="build.py",
        description="Verbosified Space Rovers: essays + GPT-2 samples -> an exhibit website. With no command, `build`.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("build", help="render content/ into output/ (the default)", description="Render content/ into output/.")
    _site_options(b)
    b.set_defaults(func=cmd_build)
    s = sub.add_parser("serve", help="build, serve output/ and rebuild on change", description="Build, serve output/ over HTTP and rebuild when content/ or site_templates/ change.")
    _site_options(s)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    s.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    s.set_defaults(func=cmd_serve)
    c = sub.add_parser("clean", help="remove output/ and its build cache", description="Remove output/ and its build cache.")
    _site_options(c)
    c.set_defaults(func=cmd_clean)
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
