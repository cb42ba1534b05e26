"""Nothing the artist does is ever lost: every writer of content/ at once, writers killed at
random, hostile requests to the studio, framing, append-only runs and undo by the bytes.

Every test here is local (127.0.0.1 only), bounded in count and time, and stops by itself.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, LockWaits, serve_studio
from tests.stores import store_of



# -- helpers ----------------------------------------------------------------


_studio = serve_studio


def _stop(running) -> None:
    running.server.shutdown()
    running.close()


def _call(running, method: str, path: str, body: object = None, *, token: bool = True, headers: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(running.url.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **({"X-Studio-Token": running.token} if token else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _wait_job(running, job: dict, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while job["stage"] not in ("done", "error"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        status, job = _call(running, "GET", f"/api/jobs/{job['job']}")
        assert status == 200, job
    return job


def _candidates(exhibit: Path, slug: str = "alpha") -> list[tuple[str, str]]:
    from generator.studio.session import Studio

    s = Studio(exhibit).essay(slug)
    return [(key, ref) for key, cands in s.assessed.items() for ref in cands]


def _picked(exhibit: Path, slug: str = "alpha") -> dict[str, tuple[set[str], set[str]]]:
    """Per passage: the refs picked and rejected (without their @CHECK)."""
    doc = tomllib.loads((exhibit / "picks" / f"{slug}.toml").read_text())
    return {e["key"]: ({p.split("@")[0] for p in e.get("picks", [])}, {p.split("@")[0] for p in e.get("rejected", [])}) for e in doc.get("passage", [])}


def _holds(picked: dict, key: str, ref: str, action: str) -> bool:
    picks, rejected = picked.get(key, (set(), set()))
    return (ref in picks and ref not in rejected) if action == "accept" else (ref in rejected and ref not in picks)


def _cache(path: Path, slug: str):
    from generator.samples.store import load_cache

    cache, warning = load_cache(path, slug)
    assert warning is None, warning
    return cache


RECORDED = re.compile(r"(?:recorded|found) run (r[0-9a-f]{8}) for passage ([0-9a-f]{12})")


# -- the lock itself ----------------------------------------------------------


def test_a_second_writer_waits_then_names_the_holder_and_a_killed_holder_blocks_nobody(tmp_path):
    from generator.errors import InputError
    from generator.locking import locked

    data = tmp_path / "samples" / "alpha.json"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from generator.locking import locked
with locked(Path({str(data)!r})):
    print("held", flush=True)
    sys.stdin.readline()  # held until the test says (it kills this process instead)
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError) as err:
            with locked(data, wait=0.5):
                pass
        assert f"process {holder.pid}" in str(err.value) and str(data) in str(err.value)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with locked(data, wait=0):  # one try, no waiting: the kernel dropped the dead holder's lock when it died
            pass
    finally:
        holder.kill()
        holder.wait()


# -- every writer at once -----------------------------------------------------


def test_concurrent_writers_lose_no_run_and_no_decision(exhibit, tmp_path, models):
    """For about 20 seconds: generate over alpha (twice at once), the studio's worker asking for more
    samples on alpha, explore, pick in a loop and decisions posted to the studio, all on one essay's files."""
    window = 20.0
    decisions = _candidates(exhibit)
    assert len(decisions) >= 4
    running = _studio(exhibit, tmp_path, models_dir=models, model="tiny")
    reported: list[tuple[str, str, str]] = []  # (file, passage, run)
    answered: dict[tuple[str, str], str] = {}  # (passage, candidate) -> the last action answered 200
    failures: list[str] = []
    waited: list[int] = []  # per command that ended: how often a writer in it waited for a lock another held
    deadline = time.monotonic() + window
    base = [sys.executable, "build.py"]
    model = ["--content", str(exhibit), "--models-dir", str(models), "--model", "tiny"]

    def generate(seed: int) -> None:
        while time.monotonic() < deadline:
            out = subprocess.run([*base, "generate", *model, "--essay", "alpha", "--samples", "2", "--length", "12", "--seed", str(seed), "-v"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=300)
            if out.returncode:
                failures.append(f"generate: {out.stderr[-2000:]}")
                return
            reported.extend(("alpha.json", key, run) for run, key in RECORDED.findall(out.stderr))
            waited.append(out.stderr.count("waiting for its lock"))
            seed += 2

    def explore() -> None:
        out = subprocess.run([*base, "explore", *model, "--essay", "alpha", "--passage", "1", "-v"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        if out.returncode:
            failures.append(f"explore: {out.stderr[-2000:]}")
        reported.extend(("explore/alpha.json", key, run) for run, key in RECORDED.findall(out.stderr))
        waited.append(out.stderr.count("waiting for its lock"))

    def pick() -> None:
        ratio = 2
        while time.monotonic() < deadline:
            ratio = 5 - ratio  # 2, 3, 2, ...: each pass changes the automatic entries, so each one writes
            out = subprocess.run([*base, "pick", "--content", str(exhibit), "--essay", "alpha", "--ratio", str(ratio), "-v"], cwd=ROOT, capture_output=True, text=True, timeout=120)
            if out.returncode:
                failures.append(f"pick: {out.stderr[-2000:]}")
                return
            waited.append(out.stderr.count("waiting for its lock"))

    def more() -> None:
        keys = sorted({key for key, _ in decisions})
        i = 0
        while time.monotonic() < deadline:
            status, job = _call(running, "POST", "/api/essays/alpha/more", {"passage": keys[i % len(keys)], "seed": 5000 + i, "samples": 2, "length": 12})
            if status != 200:
                failures.append(f"more: {status} {job}")
                return
            job = _wait_job(running, job)
            if job["stage"] != "done":
                failures.append(f"more: {job}")
                return
            reported.append(("alpha.json", keys[i % len(keys)], job["run"]))
            i += 1

    def decide() -> None:
        """Each decision on a candidate never decided before (new runs bring new ones), so every
        one of them must be in the picks file at the end, not only the last word on each."""
        rng = random.Random(7)
        keys = sorted({key for key, _ in decisions})
        while time.monotonic() < deadline:
            key = rng.choice(keys)
            status, body = _call(running, "GET", f"/api/essays/alpha/passages/{key}")
            fresh = [ref for ref in re.findall(r'data-candidate="([^"]+)"', body.get("html", "")) if (key, ref) not in answered]
            if status != 200:
                failures.append(f"passage: {status} {body}")
                return
            if not fresh:
                time.sleep(0.1)
                continue
            ref, action = rng.choice(fresh), rng.choice(["accept", "reject"])
            status, body = _call(running, "POST", "/api/essays/alpha/decide", {"action": action, "passage": key, "candidate": ref})
            if status != 200:
                failures.append(f"decide: {status} {body}")
                return
            answered[(key, ref)] = action
            time.sleep(0.02)

    threads = [threading.Thread(target=generate, args=(100,)), threading.Thread(target=generate, args=(101,)),
               *(threading.Thread(target=f) for f in (explore, pick, more, decide))]
    try:
        with LockWaits() as studio_waits:  # the studio's decisions and More samples, in this process
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=400)
        assert not any(t.is_alive() for t in threads)
    finally:
        _stop(running)
    assert failures == []
    # they really ran at once: some writer waited for a lock another held (the lock module says so)
    print(f"\nwaits for a lock another writer held: {studio_waits.count} in the studio, {sum(waited)} in the commands")
    assert studio_waits.count + sum(waited) >= 1
    samples, explored = _cache(store_of(exhibit, "alpha"), "alpha"), _cache(exhibit / "samples" / "explore" / "alpha.json", "alpha")
    missing = [r for r in reported if (samples if r[0] == "alpha.json" else explored).passages[r[1]].run(r[2]) is None]
    picked = _picked(exhibit)
    lost = [(k, ref, a) for (k, ref), a in answered.items() if not _holds(picked, k, ref, a)]
    print(f"\nruns recorded / reported: {len(reported) - len(missing)} / {len(reported)}; "
          f"decisions persisted / answered: {len(answered) - len(lost)} / {len(answered)}")
    assert len([r for r in reported if r[0] == "alpha.json"]) >= 3 and len(answered) >= 4  # each of them wrote (how often depends on the load: 5 to 43 seen)
    assert missing == [] and lost == []


# -- writers killed at random -------------------------------------------------


ROUNDS = 50


def test_writers_killed_at_random_never_lose_what_they_reported(exhibit, tmp_path):
    from generator.locking import locked
    from tests import writers

    candidates = _candidates(exhibit)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.writers", "generator.studio.session", "generator.samples.generate"])
    samples_file, picks_file = store_of(exhibit, "alpha"), exhibit / "picks" / "alpha.toml"  # the fixture's alpha.json: the first writer converts it
    rng = random.Random(2019)
    runs: list[tuple[str, str]] = []
    decisions = picks_done = 0
    worst_wait = 0.0
    for round_ in range(ROUNDS):
        reports = tmp_path / f"round-{round_}.txt"
        offset = rng.randrange(len(candidates))
        todo = [(*candidates[(offset + i) % len(candidates)], rng.choice(["accept", "reject"])) for i in range(len(candidates))]
        procs = [ctx.Process(target=writers.samples_writer, args=(exhibit, reports, round_)),
                 ctx.Process(target=writers.decision_writer, args=(exhibit, tmp_path / "journal", reports, todo)),
                 ctx.Process(target=writers.pick_writer, args=(exhibit, reports, 2.0 + round_ % 3))]
        for p in procs:
            p.start()
        time.sleep(rng.uniform(0.05, 0.6))
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
        for p in procs:
            p.join(timeout=10)
        lines = reports.read_text().splitlines() if reports.exists() else []
        with locked(samples_file, wait=2) as a, locked(picks_file, wait=2) as b:  # no stale lock
            worst_wait = max(worst_wait, a, b)
        cache = _cache(samples_file, "alpha")
        runs += [tuple(line.split()[1:]) for line in lines if line.startswith("run ")]
        assert [r for r in runs if cache.passages[r[0]].run(r[1]) is None] == [], f"round {round_}"
        picked = _picked(exhibit)
        decided = [line.split()[1:] for line in lines if line.startswith("decision ")]
        assert [d for d in decided if not _holds(picked, *d)] == [], f"round {round_}"
        decisions += len(decided)
        picks_done += sum(line == "pick" for line in lines)
        assert not [p for p in exhibit.rglob("*.tmp")], f"round {round_}: a temp file was left behind"
    print(f"\nkill rounds survived: {ROUNDS} / {ROUNDS}; reported and kept: {len(runs)} runs, {decisions} decisions, {picks_done} picks; "
          f"worst wait for a lock after a kill: {worst_wait * 1000:.1f} ms")
    assert runs and decisions and picks_done  # every writer did write


# -- hostile requests ---------------------------------------------------------


def _hostile(rng: random.Random, slugs: list[str], keys: list[str], refs: list[str]) -> tuple[str, str, object]:
    """One random request: (method, path, body)."""
    junk = ["", "..", "../../etc/passwd", "%2e%2e%2f", "a" * 5000, "\u00e9\u0000", "r00000000:0:0", "<script>", "0", "-1", "1e999", "NaN", "null"]
    values = [None, True, False, 0, -1, 3.7, 10**30, -(10**30), 1e308, float("nan"), "", "3.7", "abc", "1e3", [], {}, [1, 2], {"a": 1}, "x" * 10000, 2**31, 2**31 - 1, 100000, 10**400, -(10**400), "1" * 500]
    slug = rng.choice(slugs + junk)
    key = rng.choice(keys + junk)
    pick = lambda pool: rng.choice(pool + values)  # noqa: E731
    kind = rng.randrange(12)
    if kind == 0:
        return "GET", rng.choice(["/", f"/essays/{slug}/", f"/api/essays/{slug}/passages/{key}", f"/api/jobs/{pick(['j1', 'j999'])}",
                                  "/api/status", f"/static/{pick(['studio.js', 'style.css'])}", f"/preview/{pick(['essays/alpha/', '../../'])}"]), None
    path = rng.choice([f"/api/essays/{slug}/decide", f"/api/essays/{slug}/undo", f"/api/essays/{slug}/more"])
    if kind == 1:
        return "POST", path, rng.choice([b"not json", b"{", b"[]", b"null", b"\xff\xfe", b'{"action": NaN}', b"1" * 70000])
    body: dict = {}
    for name, pool in (("action", ["accept", "reject", "unpick", "up", "down", "clear", "auto", "delete"]), ("passage", keys), ("candidate", refs),
                       ("temperature", [0.8, 2.0]), ("top_k", [0, 30, 5000]), ("seed", [1, 7]), ("length", [20, 1023, 2000]), ("samples", [1, 3, 1001])):
        if rng.random() < 0.7:
            body[name] = pick(pool)
    return "POST", path, body


def test_a_thousand_hostile_requests_get_no_5xx_and_a_4xx_writes_nothing(exhibit, tmp_path):
    def snapshot() -> dict[str, bytes]:
        return {str(p.relative_to(exhibit)): p.read_bytes() for p in sorted(exhibit.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}

    keys = [k for k, _ in _candidates(exhibit)] + [k for k, _ in _candidates(exhibit, "beta")]
    refs = [r for _, r in _candidates(exhibit)]
    running = _studio(exhibit, tmp_path)
    counts, fives, writes, unguarded = _send_hostile(running, exhibit, snapshot, keys, refs, HOSTILE)
    print(f"\nhostile requests sent: {HOSTILE}; answered {counts}")
    assert sum(counts.values()) == HOSTILE  # every request accounted for, by what came of it
    assert counts["timeout"] == counts["reset"] == counts["5xx"] == 0, (counts, fives)
    assert writes == [] and unguarded == []  # a 4xx writes nothing; every answer, errors too, forbids framing
    assert counts["4xx"] > HOSTILE // 2 and counts["2xx"] > 0


HOSTILE = 1000
ANSWER_WITHIN = 15  # seconds: each request is answered in milliseconds; one that takes this long hangs


def _send_hostile(running, exhibit, snapshot, keys, refs, n: int, seed: int = 16):
    """Send ``n`` seeded hostile requests, each on a connection of its own, and count what came of
    each: its status class, or a timeout, or a connection reset or closed without an answer."""
    import socket

    rng = random.Random(seed)
    counts = {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "timeout": 0, "reset": 0}
    fives, writes, unguarded = [], [], []
    before = snapshot()
    try:
        for _ in range(n):
            method, path, body = _hostile(rng, ["alpha", "beta"], keys, refs)
            data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json", "Host": f"127.0.0.1:{running.server.server_port}"}
            if rng.random() < 0.9:
                headers["X-Studio-Token"] = running.token
            conn = http.client.HTTPConnection("127.0.0.1", running.server.server_port, timeout=ANSWER_WITHIN)
            try:
                conn.request(method, urllib.parse.quote(path, safe="/%"), body=data, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (TimeoutError, socket.timeout):
                counts["timeout"] += 1
                fives.append((method, path, "timeout"))
                continue
            except (http.client.HTTPException, ConnectionError) as exc:  # reset, broken pipe, closed without an answer
                counts["reset"] += 1
                fives.append((method, path, type(exc).__name__))
                continue
            finally:
                conn.close()
            if response.getheader("X-Frame-Options") != "DENY" or "frame-ancestors 'none'" not in (response.getheader("Content-Security-Policy") or ""):
                unguarded.append((method, path, status))
            counts[f"{status // 100}xx"] += 1
            if status >= 500:
                fives.append((method, path, body, status))
            after = snapshot()
            if 400 <= status < 500 and after != before:
                writes.append((method, path, body, status))
            before = after
    finally:
        _stop(running)
    return counts, fives, writes, unguarded


def test_numbers_from_a_request_are_taken_exactly_and_top_k_is_checked_against_the_model(exhibit, tmp_path, models):
    running = _studio(exhibit, tmp_path, models_dir=models, model="tiny")
    key = _candidates(exhibit)[0][0]
    try:
        for body, why in (({"samples": 3.7}, "whole number"), ({"samples": "3.7"}, "whole number"), ({"top_k": True}, "number"),
                          ({"top_k": 100000}, "model's 557 tokens"), ({"temperature": "inf"}, "number"), ({"seed": 2**40}, "seed must be between")):
            status, answer = _call(running, "POST", "/api/essays/alpha/more", {"passage": key, **body})
            assert status == 400 and why in answer["error"], (body, answer)
        assert running.engine.proc is None  # nothing reached the engine
    finally:
        _stop(running)


# -- framing ------------------------------------------------------------------


def test_a_page_on_another_port_that_frames_the_studio_gets_nothing_and_cannot_post(browser, exhibit, tmp_path):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    running = _studio(exhibit, tmp_path)
    key, ref = _candidates(exhibit)[0]
    picks = exhibit / "picks" / "alpha.toml"
    before = picks.read_bytes()
    studio_url = running.url

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = f"""<!doctype html><title>evil</title><iframe id="f" src="{studio_url}essays/alpha/" width="800" height="600"></iframe>
<form id="x" method="post" action="{studio_url}api/essays/alpha/decide" enctype="text/plain"><input name='{{"action":"accept","passage":"{key}","candidate":"{ref}","x":"' value='"}}'></form>
<script>fetch("{studio_url}api/essays/alpha/decide", {{method: "POST", mode: "no-cors", body: JSON.stringify({{action: "accept", passage: "{key}", candidate: "{ref}"}})}});</script>""".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    context = browser.new_context()  # the CSP in force, as for any visitor
    try:
        page = context.new_page()
        posts: list[int] = []  # what the studio answered the posts the browser let through
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
        page.on("response", lambda r: posts.append(r.status) if r.request.method == "POST" else None)
        with page.expect_request(lambda r: r.method == "POST", timeout=30_000) as fetched:  # the page's fetch
            page.goto(f"http://127.0.0.1:{evil.server_port}/")  # and its frame loaded (goto waits for the load event)
        fetched.value.response()  # waits until the fetch is over, answered or failed
        framed = [f for f in page.frames if f != page.main_frame]
        assert framed and all("data-candidate" not in f.content() for f in framed)  # the browser refused to render it
        with page.expect_navigation():
            page.evaluate("document.getElementById('x').submit()")  # a plain form post: no token can ride along
        assert len(sent) == 2 and posts and picks.read_bytes() == before  # the posts (no token: none can be sent from there) wrote nothing
        assert all(s in (0, 403) for s in posts)  # 0: the opaque answer to a no-cors fetch
        # with the token, but from another origin: refused too (a token that leaked is not enough)
        for headers in ({"Origin": f"http://127.0.0.1:{evil.server_port}"}, {"Sec-Fetch-Site": "cross-site"}):
            status, _ = _call(running, "POST", "/api/essays/alpha/decide", {"action": "accept", "passage": key, "candidate": ref}, headers=headers)
            assert status == 403
        assert picks.read_bytes() == before
        # every answer forbids framing and foreign scripts, and the studio's own page still works under it
        with urllib.request.urlopen(studio_url + "essays/alpha/") as r:
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"] and "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Frame-Options"] == "DENY"
        own = context.new_page()
        errors: list[str] = []
        own.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        own.goto(studio_url + "essays/alpha/")
        own.keyboard.press("j")
        own.keyboard.press("a")
        own.wait_for_function("() => document.querySelector('#status').textContent.includes('saved')")
        assert errors == [] and picks.read_bytes() != before
    finally:
        context.close()
        evil.shutdown()
        _stop(running)


# -- append-only runs and one job per run ----------------------------------------


def test_sampling_again_with_another_count_keeps_the_first_run_and_its_picks_and_twin_jobs_make_one_run(exhibit, tmp_path, models):
    from generator.studio.session import Studio

    running = _studio(exhibit, tmp_path, models_dir=models, model="tiny")
    key = Studio(exhibit).essay("beta").essay.passages[0].key
    cache_file = store_of(exhibit, "beta")
    try:
        status, job = _call(running, "POST", "/api/essays/beta/more", {"passage": key, "seed": 11, "samples": 3, "temperature": 1.0, "top_k": 0})
        assert status == 200
        first = _wait_job(running, job)
        assert first["stage"] == "done", first
        candidates = [ref for k, ref in _candidates(exhibit, "beta") if k == key and ref.startswith(first["run"] + ":")]
        assert candidates, "the first run gave no candidate to pick"
        status, _ = _call(running, "POST", "/api/essays/beta/decide", {"action": "accept", "passage": key, "candidate": candidates[0]})
        assert status == 200
        before = _cache(cache_file, "beta").passages[key].run(first["run"])
        status, job = _call(running, "POST", "/api/essays/beta/more", {"passage": key, "seed": 11, "samples": 4, "temperature": 1.0, "top_k": 0})
        second = _wait_job(running, job)
        assert second["stage"] == "done" and second["run"] != first["run"]
        entry = _cache(cache_file, "beta").passages[key]
        assert entry.run(first["run"]) == before and len(entry.run(second["run"]).samples) == 4
        s = Studio(exhibit).essay("beta")
        assert not [p for p in s.verbosified("builtin").stale if p.passage == key]  # the pick still resolves
        # the same request twice, as two tabs or two buttons send it: one job, one run
        runs = len(entry.runs)
        status_a, job_a = _call(running, "POST", "/api/essays/beta/more", {"passage": key})
        status_b, job_b = _call(running, "POST", "/api/essays/beta/more", {"passage": key})
        assert status_a == status_b == 200 and job_a["job"] == job_b["job"]
        assert _wait_job(running, job_a)["stage"] == "done"
        assert len(_cache(cache_file, "beta").passages[key].runs) == runs + 1
    finally:
        _stop(running)


# -- undo by the bytes ----------------------------------------------------------


def test_accept_then_undo_restores_the_bytes_even_after_a_restart(tmp_path):
    import shutil

    from generator.studio.session import Studio

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)  # the real exhibit: its entries are auto = true, the case that moved
    journal = tmp_path / "journal"
    path = content / "picks" / "space-rovers.toml"
    original = path.read_bytes()
    studio = Studio(content, journal=journal)
    s = studio.essay("space-rovers")
    key = next(k for k, e in s.picks.passages.items() if e.auto)
    ref = next(r for r in s.assessed[key] if r not in {str(x) for x in s.picks.passages[key].refs})
    studio.decide("space-rovers", "accept", key, ref)
    assert path.read_bytes() != original
    studio.decide("space-rovers", "accept", key, ref)  # pressed twice: nothing moves, nothing more to undo
    studio.undo("space-rovers")
    assert path.read_bytes() == original
    assert studio.undo("space-rovers") is None
    # a restart between the decision and its undo
    studio.decide("space-rovers", "reject", key, ref)
    studio.decide("space-rovers", "clear", key)
    again = Studio(content, journal=journal)
    again.undo("space-rovers")
    again.undo("space-rovers")
    assert path.read_bytes() == original
    # a file changed while the studio was not running: its old history is not applied to it
    again.decide("space-rovers", "accept", key, ref)
    path.write_text(path.read_text() + "\n# edited while the studio was closed\n")
    third = Studio(content, journal=journal)
    assert third.undo("space-rovers") is None


def test_an_editor_save_between_read_and_write_keeps_both(exhibit, tmp_path, monkeypatch):
    from generator.studio.session import Studio

    studio = Studio(exhibit, journal=tmp_path / "journal")
    path = exhibit / "picks" / "alpha.toml"
    key, ref = _candidates(exhibit)[0]
    studio.essay("alpha")
    original = path.read_text()
    stale = original[original.index('[[passage]]\nkey = "000000000000"'):]
    edited = "# saved in an editor just now\n" + original.replace(stale, "")  # and the stale entry deleted
    assert "000000000000" in original and "000000000000" not in edited
    path.write_text(edited)
    monkeypatch.setattr(studio, "_refresh_picks", lambda s: None)  # the save lands after the studio's look, before its write
    decision = studio.decide("alpha", "reject", key, ref)
    text = path.read_text()
    assert text.startswith("# saved in an editor just now\n") and "000000000000" not in text and _holds(_picked(exhibit), key, ref, "reject")
    assert studio.essay("alpha").picks_text == text  # the text it wrote is the text it keeps
    assert any("changed outside the studio" in n for n in decision.notices)  # the page says so
    studio.undo("alpha")
    assert path.read_text() == edited


# -- the smaller defects ----------------------------------------------------------


def test_a_dead_workers_reader_fails_only_the_jobs_it_was_sent(tmp_path):
    from generator.samples.cache import Params
    from generator.samples.request import Request
    from generator.studio.jobs import EngineWorker, Job

    params = Params(temperature=0.8, top_k=30, length=20, seed=1, finetune_steps=1, learning_rate=1e-4)
    engine = EngineWorker(Request("tiny", tmp_path, "fast", 2, params))
    dead = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    successor = subprocess.Popen([sys.executable, "-c", "import sys\nfor line in sys.stdin: pass"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        engine._jobs = {"j1": Job("j1", "alpha", "k1", params, 2, worker=dead), "j2": Job("j2", "alpha", "k2", params, 2, worker=successor)}
        engine._exited(dead, dead.wait())  # what the worker's reader thread says when the process ends
        assert engine.job("j1").stage == "error" and "stopped" in engine.job("j1").message
        assert engine.job("j2").stage == "queued"  # sent to the new worker: still waiting for it
    finally:
        successor.stdin.close()
        successor.wait(timeout=10)


def test_the_page_stops_polling_a_job_the_studio_no_longer_knows(browser, exhibit, tmp_path, models):
    """After a restart the studio answers 400 for an old job: the page says so and stops asking.
    (The request for more samples is answered by the test, so no engine starts.)"""
    running = _studio(exhibit, tmp_path, models_dir=models, model="tiny")
    context = browser.new_context()
    try:
        page = context.new_page()
        polls: list[str] = []
        page.route("**/api/essays/alpha/more", lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps({"job": "j1", "stage": "running", "message": "sampling", "seconds": 0.1})))
        page.on("request", lambda r: polls.append(r.url) if "/api/jobs/" in r.url else None)
        page.clock.install()  # the page's timers run when the test says: no sleep races them
        page.goto(running.url + "essays/alpha/")
        page.locator("[data-more]").first.click()
        page.clock.run_for(2_000)  # the first poll falls due
        page.wait_for_function("() => /no job/.test(document.querySelector('[data-passage] .job').textContent)", timeout=10_000)
        seen = len(polls)
        page.clock.run_for(600_000)  # ten minutes of the page's timers: a page still polling would ask again
        page.evaluate("() => fetch('/api/status')")  # one more round trip, so any request the timers made has been seen
        assert seen == 1 and len(polls) == seen
    finally:
        context.close()
        _stop(running)


def test_explore_keeps_an_exploration_cache_it_cannot_read_whole(exhibit, models, capsys):
    from tests.conftest import run_cli

    path = exhibit / "samples" / "explore" / "alpha.json"
    data = json.loads(path.read_text())
    key = next(iter(data["passages"]))
    data["passages"]["ffffffffffff"] = {"text": "A passage of an older essay.", "runs": "not a list"}  # malformed
    broken = json.dumps(data)
    path.write_text(broken)
    assert run_cli("explore", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "alpha", "--passage", "1") == 1
    err = capsys.readouterr().err
    assert str(path) in err and "ffffffffffff" in err and "nothing was changed" in err
    assert path.read_text() == broken and key in broken
    path.write_text("{ not json")
    assert run_cli("explore", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "alpha", "--passage", "1") == 1
    assert path.read_text() == "{ not json"
