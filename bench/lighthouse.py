#!/usr/bin/env python3
"""Lighthouse scores of the built site (too slow for every test run).

    python bench/lighthouse.py [--output output]

Installs the npm package `lighthouse` into bench/.work/node if missing,
serves the built site on 127.0.0.1 under a sub-path, runs Lighthouse in
headless Debian Chromium (CHROME_PATH=/usr/bin/chromium) on the landing,
essay and exploration pages and the gallery's loop and label, and prints the four category scores per page.
Target: >= 0.95 everywhere.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "bench" / ".work" / "node"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --no-first-run"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", type=Path, default=ROOT / "output", help="a built site (python build.py)")
    args = ap.parse_args()
    exe = NODE / "node_modules" / ".bin" / "lighthouse"
    if not exe.exists():
        NODE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(NODE), "--no-audit", "--no-fund", "lighthouse@13.5.0"], check=True)
    site = args.output.resolve()
    essays = sorted(p.parent.name for p in (site / "essays").glob("*/index.html"))
    root = site.parent
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/{site.name}/"
    worst = 1.0
    for label, url in (("landing", ""), ("essay", f"essays/{essays[0]}/"), ("exploration", "explore/"), ("exhibition", "exhibition/"), ("label", "label/")):
        r = subprocess.run(
            [str(exe), base + url, "--quiet", "--output=json", "--output-path=stdout", f"--chrome-flags={FLAGS}", "--only-categories=" + ",".join(CATEGORIES)],
            capture_output=True,
            text=True,
            env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"},
        )
        if r.returncode:
            print(r.stderr[-2000:], file=sys.stderr)
            return r.returncode
        report = json.loads(r.stdout)
        scores = {c: report["categories"][c]["score"] for c in CATEGORIES}
        worst = min(worst, *scores.values())
        failing = [a["id"] for a in report["audits"].values() if a.get("score") is not None and a["score"] < 0.9 and a.get("scoreDisplayMode") == "binary"]
        print(f"{label:12} " + "  ".join(f"{c} {s:.2f}" for c, s in scores.items()) + (f"   (failing: {', '.join(failing)})" if failing else ""), flush=True)
    server.shutdown()
    print(f"lowest score: {worst:.2f} (target >= 0.95)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
