#!/usr/bin/env python3
"""The station's answer time, as a visitor waits for it.

    python bench/station.py [--model 124M] [--requests 3]

Builds (once) the random-weight checkpoint of GPT-2 124M's shape that
bench/generation.py uses, starts the station on 127.0.0.1 on the exhibit,
sends one request to warm it (the worker loads TensorFlow and the model),
then one request after another with the essays' passages, polling as the
page does. For each: seconds from submit to the untamed sample on screen,
and to the doubled passage (fine-tune, 10 samples of 100 tokens, auto-pick).
At the end, the worker's peak resident memory (VmHWM). The weights are
random, so the text is noise; the time does not depend on weight values.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generation import MODELS, ensure_model  # noqa: E402

from generator.content import read_essays  # noqa: E402
from generator.content.layout import ContentLayout  # noqa: E402
from generator.station.serve import StationOptions, open_station  # noqa: E402


def ask(url: str, token: str, passage: str) -> tuple[float, float]:
    """(seconds to the untamed sample, seconds to the doubled passage)."""
    body = json.dumps({"passage": passage}).encode()
    req = urllib.request.Request(url + "api/visits", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-Station-Token": token})
    start = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        vid = json.loads(r.read())["id"]
    untamed = None
    while True:
        with urllib.request.urlopen(url + f"api/visits/{vid}") as r:
            s = json.loads(r.read())
        now = time.perf_counter() - start
        if untamed is None and "untamed" in s:
            untamed = now
        if s["stage"] == "error":
            raise SystemExit(f"the request failed: {s['message']}")
        if s["stage"] == "done":
            return untamed if untamed is not None else now, now
        time.sleep(0.05)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="124M", choices=["124M", "355M"])
    ap.add_argument("--requests", type=int, default=3)
    ap.add_argument("--timeout", type=float, help="[station] timeout_seconds for this run (shorter than the model's load: "
                    "the first answer still comes, the timeout counting from the end of loading)")
    args = ap.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per poll
    ensure_model(args.model)
    layout = ContentLayout(ROOT / "content")
    passages = [p.text for e in read_essays(layout) for p in e.passages][1 : 1 + args.requests]
    content = ROOT / "content"
    if args.timeout is not None:  # a copy of the exhibit whose station times out sooner
        import shutil

        content = ROOT / "bench" / ".work" / "station-content"
        shutil.rmtree(content, ignore_errors=True)
        shutil.copytree(ROOT / "content", content)
        toml = ContentLayout(content).site_toml
        toml.write_text(toml.read_text() + f"\n[station]\ntimeout_seconds = {args.timeout}\n" if "[station]" not in toml.read_text()
                        else toml.read_text().replace("[station]", f"[station]\ntimeout_seconds = {args.timeout}", 1))
    running = open_station(StationOptions(content=content, models_dir=MODELS, model=f"bench-{args.model}", port=0))
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    url, token = running.url, running.station.token
    try:
        start = time.perf_counter()
        ask(url, token, passages[0])
        print(f"first request (TensorFlow and the model loading, then the request; timeout "
              f"{running.station.config.station.timeout_seconds:g} s from the end of loading): {time.perf_counter() - start:.1f} s; "
              f"loading took {running.station.engine.load_estimate():.1f} s")
        rows = [ask(url, token, p) for p in passages]
        for i, (untamed, doubled) in enumerate(rows, 1):
            print(f"request {i}: untamed sample at {untamed:.2f} s, doubled passage at {doubled:.2f} s")
        print(f"median, warm: untamed {statistics.median(r[0] for r in rows):.2f} s, doubled {statistics.median(r[1] for r in rows):.2f} s")
        print(f"the worker's peak RSS: {peak_rss(running.station.engine.proc.pid) / 1e9:.2f} GB")
    finally:
        running.server.shutdown()
        running.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
