"""The live station: a visitor's words verbosified by the engine in a worker, beside GPT-2 untamed."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from generator.picks.candidates import sample_sentences
from tests.conftest import heavy_imports, run_cli
from tests.test_browser import watch

# the tiny test model learnt the fixture's essays: their words are what it continues into whole sentences
VISITOR = "Rovers drive slowly. They carry cameras. They stop often."
BLOCKED = "rocks"  # and it writes this word often


def _open(exhibit: Path, models_dir: Path, model: str | None = "tiny", keep: Path | None = None):
    from generator.station.serve import StationOptions, open_station

    running = open_station(StationOptions(content=exhibit, models_dir=models_dir, model=model, keep=keep, port=0))
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    return running


@pytest.fixture
def station(exhibit, models):
    running = _open(exhibit, models)
    yield running
    running.server.shutdown()
    running.close()


def _post(running, body: dict, token: str | None = None, host: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Station-Token"] = token
    if host is not None:
        headers["Host"] = host
    req = urllib.request.Request(running.url + "api/visits", data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _status(running, vid: str) -> dict:
    with urllib.request.urlopen(running.url + f"api/visits/{vid}", timeout=10) as r:
        return json.loads(r.read())


def _wait(running, vid: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = _status(running, vid)
        if s["stage"] in ("done", "error"):
            return s
        time.sleep(0.2)
    raise AssertionError(f"request {vid} did not finish in {timeout} s")


def _request(models_dir: Path):
    from generator.samples.cache import Params
    from generator.samples.request import Request

    return Request("tiny", models_dir, "fast", 2, Params(0.8, 30, 8, 1, 1, 1e-4))


def _sentences(samples: list[str]) -> set[str]:
    return {text for s in samples for text, _ in sample_sentences(s)}


def _tree(folder: Path) -> dict[str, str]:
    """Every file's hash, but the model's fingerprint cache (written once per checkpoint, whoever asks)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".fingerprint.json"}


def test_a_visitor_sees_both_columns_filled_with_what_the_worker_wrote_for_them(browser, station, exhibit, models):
    content_before, models_before = _tree(exhibit), _tree(models)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})  # under the station's own CSP: locators only
    problems = watch(page)
    page.goto(station.url + "?idle=2")  # the request takes longer than that: a visitor watching is not idle
    assert page.locator("#columns").is_hidden()
    page.locator('textarea[name="passage"]').fill(VISITOR)
    page.get_by_role("button", name="Verbosify").click()
    page.locator('[data-column="untamed"][data-state="done"]').wait_for(timeout=180_000)
    page.locator('[data-column="tamed"][data-state="done"]').wait_for(timeout=180_000)
    assert page.locator("textarea").input_value() == VISITOR
    visits = list(station.station.engine._visits.values())
    assert len(visits) == 1
    result = visits[0].result
    tamed = page.locator('[data-column="tamed"]')
    added = tamed.locator("ins").all_inner_texts()
    assert added and set(added) <= _sentences(result["samples"])  # every shown sentence came from this request
    assert tamed.locator(".text").inner_text().startswith(VISITOR)
    words = int(tamed.locator(".words").inner_text())
    assert words > len(VISITOR.split())
    assert page.locator('[data-column="untamed"] .text').inner_text() == result["untamed"].strip()
    assert problems == []
    # privacy: nothing was written, in the exhibit or beside the model
    assert _tree(exhibit) == content_before and _tree(models) == models_before
    # once the answer is in place, the idle time runs, and the screen clears for the next visitor
    page.locator("#columns").wait_for(state="hidden", timeout=10_000)
    assert page.locator("textarea").input_value() == ""
    page.close()


def test_two_identical_requests_give_identical_samples_so_the_weights_were_restored(station):
    first = _post(station, {"passage": VISITOR}, token=station.station.token)
    assert first[0] == 202
    a = _wait(station, first[1]["id"])
    second = _post(station, {"passage": VISITOR}, token=station.station.token)
    b = _wait(station, second[1]["id"])
    assert a["stage"] == b["stage"] == "done"
    va, vb = (station.station.engine.visit(v[1]["id"]) for v in (first, second))
    assert va.result["samples"] == vb.result["samples"] and va.result["untamed"] == vb.result["untamed"]
    assert a["tamed"] == b["tamed"]
    # and another visitor's words do not change them either
    other = _post(station, {"passage": "Dr. Smith built the arm. It has five joints. It never stops."}, token=station.station.token)
    _wait(station, other[1]["id"])
    third = _post(station, {"passage": VISITOR}, token=station.station.token)
    _wait(station, third[1]["id"])
    assert station.station.engine.visit(third[1]["id"]).result["samples"] == va.result["samples"]


def test_two_visitors_at_once_run_one_after_the_other_and_the_second_sees_its_place(browser, station):
    pages = [browser.new_page(bypass_csp=True), browser.new_page(bypass_csp=True)]
    for pg in pages:
        pg.goto(station.url)
    pages[0].locator("textarea").fill(VISITOR)
    pages[1].locator("textarea").fill("Dr. Smith built the arm. It has five joints. It never stops.")
    pages[0].get_by_role("button", name="Verbosify").click()
    pages[0].locator("#progress").wait_for()  # the first request is in before the second is sent
    pages[1].get_by_role("button", name="Verbosify").click()
    pages[1].wait_for_function("/1 visitor ahead of you/.test(document.getElementById('stage').textContent)", timeout=60_000)
    for pg in pages:
        pg.locator('[data-column="tamed"][data-state="done"]').wait_for(timeout=240_000)
    first, second = sorted(station.station.engine._visits.values(), key=lambda v: v.created)
    assert second.began >= first.finished  # one at a time
    for pg in pages:
        pg.close()


def test_too_long_input_and_blocked_words_are_refused_and_nothing_runs(browser, exhibit, models, tmp_path):
    (exhibit / "blocklist.txt").write_text("# words the artist will not show\nDarn\n")
    toml = exhibit / "site.toml"
    toml.write_text(toml.read_text().replace("[generation]", '[station]\nblocklist = "blocklist.txt"\n\n[generation]'))
    running = _open(exhibit, models)
    try:
        page = browser.new_page(bypass_csp=True)
        page.goto(running.url)
        for text, message in (
            (VISITOR + " They take pictures.", "4 sentences; the station takes up to 3"),
            ("x" * 601, "601 characters; the station takes up to 600"),
            ("Well, darn it. The rover is stuck.", "would rather not take those words"),
        ):
            page.evaluate("t => { const a = document.querySelector('textarea'); a.removeAttribute('maxlength'); a.value = t; }", text)
            page.get_by_role("button", name="Verbosify").click()
            page.wait_for_function("m => document.querySelector('[role=alert]').textContent.includes(m)", arg=message, timeout=10_000)
        assert running.station.engine._visits == {} and running.station.engine.proc is None  # nothing ran
        assert _post(running, {"passage": "x" * 601}, token=running.station.token)[0] == 400
        assert _post(running, {"passage": 42}, token=running.station.token)[0] == 400
    finally:
        running.server.shutdown()
        running.close()


def test_a_blocked_word_the_model_writes_is_never_shown(exhibit, models):
    """The samples are exact: a word the first answer showed is blocked, and the same request
    then shows no sentence with it, saying the artist chose not to show something."""
    def ask() -> tuple[dict, object]:
        running = _open(exhibit, models)
        try:
            code, body = _post(running, {"passage": VISITOR}, token=running.station.token)
            assert code == 202
            return _wait(running, body["id"]), running.station.engine.visit(body["id"])
        finally:
            running.server.shutdown()
            running.close()

    first, _ = ask()
    shown = first["tamed"]["sentences"][0]["text"]
    blocked = next(w for w in re.findall(r"[A-Za-z]{4,}", shown) if w.lower() not in VISITOR.lower())
    (exhibit / "blocklist.txt").write_text(f"# chosen from what the model showed\n{blocked}\n")
    toml = exhibit / "site.toml"
    toml.write_text(toml.read_text().replace("[generation]", '[station]\nblocklist = "blocklist.txt"\n\n[generation]'))
    second, visit = ask()
    word = re.compile(rf"(?<!\w){blocked}(?!\w)", re.IGNORECASE)
    assert any(word.search(x) for x in visit.result["samples"])  # the model wrote it again
    texts = [x["text"] for x in second["tamed"]["sentences"]] + [second["untamed"]["text"]]
    assert shown not in texts and not any(word.search(x) for x in texts)
    assert second["tamed"]["note"] == "The model wrote something the artist chose not to show."


def test_keep_appends_one_line_per_request_and_nothing_else(exhibit, models, tmp_path):
    keep = tmp_path / "kept" / "visitors.jsonl"
    running = _open(exhibit, models, keep=keep)
    try:
        for _ in range(2):
            _, body = _post(running, {"passage": VISITOR}, token=running.station.token)
            _wait(running, body["id"])
    finally:
        running.server.shutdown()
        running.close()
    lines = [json.loads(x) for x in keep.read_text().splitlines()]
    assert len(lines) == 2 and all(x["input"] == VISITOR and x["stage"] == "done" and x["shown"]["tamed"] for x in lines)
    assert sorted(p.name for p in keep.parent.iterdir()) == [".visitors.jsonl.lock", "visitors.jsonl"]


def test_idle_time_clears_the_screen_for_the_next_visitor(browser, exhibit, models):
    running = _open(exhibit, models, model="none-here")
    try:
        page = browser.new_page(bypass_csp=True)
        page.goto(running.url + "?idle=4")
        page.locator("#example-list button").first.click()
        page.locator('[data-column="tamed"][data-state="done"]').wait_for(timeout=10_000)
        assert page.locator("textarea").input_value() != ""
        page.locator("#columns").wait_for(state="hidden", timeout=5000)
        assert page.locator("textarea").input_value() == "" and page.locator("#examples").is_visible()
        assert page.locator('[data-column="tamed"] .text').text_content() == ""
    finally:
        running.server.shutdown()
        running.close()


def test_without_a_model_it_shows_the_examples_cached_and_never_the_artists_commands(browser, exhibit, tmp_path):
    running = _open(exhibit, tmp_path / "no-models", model=None)
    try:
        page = browser.new_page(bypass_csp=True)
        problems = watch(page)
        page.goto(running.url)
        assert "no model on this machine" in page.locator("#missing").inner_text()
        html = page.content()
        assert "build.py" not in html and "download-model" not in html and str(tmp_path) not in html  # visitors see no command, no path
        assert "download-model 124M" in running.station.missing()  # the artist's log has it (serve logs it at start)
        page.locator("#example-list button").first.click()
        tamed = page.locator('[data-column="tamed"][data-state="done"]')
        tamed.wait_for(timeout=10_000)
        assert tamed.locator(".cached").inner_text() == "cached"
        assert tamed.locator("ins").all_inner_texts() == ["The cameras see far.", "<script>alert('x')</script> Markup {{ 7*7 }} {% if %} must stay text."]
        assert page.locator('[data-column="untamed"] .cached').count() == 1
        assert problems == []
        page.locator("textarea").fill(VISITOR)
        page.get_by_role("button", name="Verbosify").click()
        page.wait_for_function("/no model to run/.test(document.querySelector('[role=alert]').textContent)")
    finally:
        running.server.shutdown()
        running.close()


def test_guards_refuse_no_token_a_bad_token_a_foreign_host_and_axe_finds_nothing(browser, exhibit, tmp_path):
    from tests.test_web_checkers import axe_violations

    running = _open(exhibit, tmp_path / "no-models", model=None)
    try:
        port = running.server.server_port
        assert _post(running, {"passage": VISITOR})[0] == 403
        assert _post(running, {"passage": VISITOR}, token="x" * 43)[0] == 403
        assert _post(running, {"passage": VISITOR}, token=running.station.token, host=f"evil.example:{port}")[0] == 403
        req = urllib.request.Request(running.url, headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req)
        assert err.value.code == 403
        with urllib.request.urlopen(running.url) as r:
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"] and r.headers["X-Frame-Options"] == "DENY"
        assert _post(running, {"passage": VISITOR}, token=running.station.token)[0] == 503  # the token works; no model here
        page = browser.new_page(bypass_csp=True)
        page.goto(running.url)
        assert axe_violations(page) == []
        page.locator("#example-list button").first.click()
        page.locator('[data-column="tamed"][data-state="done"]').wait_for()
        assert axe_violations(page) == []
    finally:
        running.server.shutdown()
        running.close()


def test_the_web_process_never_imports_tensorflow(exhibit, tmp_path):
    code = f"""
from pathlib import Path
from generator.station.serve import StationOptions, open_station
r = open_station(StationOptions(content=Path({str(exhibit)!r}), models_dir=Path({str(tmp_path)!r}), port=0))
client = r.server.app.test_client()
host = {{"Host": "127.0.0.1:%d" % r.server.server_port}}
assert client.get("/", headers=host).status_code == 200
assert client.get("/api/examples", headers=host).status_code == 200
assert client.post("/api/visits", json={{"passage": "One. Two. Three."}}, headers={{**host, "X-Station-Token": r.station.token}}).status_code == 503
r.close()
"""
    assert heavy_imports(code, tmp_path) == []


def test_a_request_older_than_the_timeout_is_dropped_with_a_message(tmp_path):
    """A stand-in worker that never answers: the running request is dropped at the timeout
    (its worker stopped), and the one queued behind it, already too old, is dropped unrun."""
    from generator.station.jobs import StationEngine

    silent = [sys.executable, "-c", "import json, sys, time\nfor line in sys.stdin:\n"
              "    print(json.dumps({'job': json.loads(line)['job'], 'stage': 'loaded'}), flush=True)\n    time.sleep(3600)"]
    engine = StationEngine(_request(tmp_path), timeout=1.0, command=silent)
    try:
        a = engine.submit("One. Two. Three.", {}, 1, None)
        b = engine.submit("Four. Five. Six.", {}, 1, None)
        assert engine.ahead_of(b) >= 1
        assert a.done.wait(10) and b.done.wait(10)
        assert a.stage == "error" and "longer than 1 seconds" in a.message
        assert b.stage == "error" and "busy for more than 1 seconds" in b.message
        assert a.worker.wait(5) is not None  # the silent worker was stopped
    finally:
        engine.close()


def test_kiosk_station_dry_run_opens_the_station(capsys, tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    assert run_cli("kiosk", "--station", "--dry-run", "--browser", str(browser)) == 0
    line = capsys.readouterr().out.strip()
    assert "--kiosk" in line and line.endswith("http://127.0.0.1:8002/")


def test_a_station_request_runs_as_generate_would_with_the_exhibits_train_on_and_its_escalation(exhibit, models):
    """site.toml asks for training on gpt-2-simple's windows and for 2-token samples, which are
    all too short to use: the visitor's request records `window` and climbs generate's ladder
    (top_k 30, then 40, then 80), and what the page shows is picked from all three runs."""
    toml = exhibit / "site.toml"
    toml.write_text(toml.read_text().replace('[generation]\nmodel = "fixture"', '[generation]\nmodel = "tiny"\ntrain_on = "window"\nlength = 2\nsamples = 2'))
    running = _open(exhibit, models)
    try:
        code, body = _post(running, {"passage": VISITOR}, token=running.station.token)
        assert code == 202
        status = _wait(running, body["id"])
        visit = running.station.engine.visit(body["id"])
    finally:
        running.server.shutdown()
        running.close()
    assert status["stage"] == "done", status
    runs = visit.result["runs"]
    assert [r["params"]["train_on"] for r in runs] == ["window"] * 3
    assert [r["params"]["top_k"] for r in runs] == [30, 40, 80] and all(f == "empty" for r in runs for f in r["flags"])
    assert visit.result["samples"] == [x for r in runs for x in r["samples"]]


def _slow_loader(tmp_path: Path, load: float) -> list[str]:
    """A stand-in engine worker that takes ``load`` seconds to load its model, then answers every
    visit at once with one run (the protocol of generator.samples.worker)."""
    script = tmp_path / "slow_worker.py"
    script.write_text(f"""import json, sys, time
loaded = False
for line in sys.stdin:
    job = json.loads(line)["job"]
    if not loaded:
        print(json.dumps({{"job": job, "stage": "loading"}}), flush=True)
        time.sleep({load})
        loaded = True
        print(json.dumps({{"job": job, "stage": "loaded", "load_seconds": {load}}}), flush=True)
    run = {{"model": "tiny", "model_fingerprint": "sha256:0000000000000000", "recipe": "fast", "samples": [" It was slow."], "flags": [""],
           "params": {{"temperature": 0.8, "top_k": 30, "length": 8, "seed": 1, "finetune_steps": 1, "learning_rate": 0.0001}}}}
    print(json.dumps({{"job": job, "stage": "done", "runs": [run], "fingerprint": "sha256:0000000000000000"}}), flush=True)
""")
    return [sys.executable, str(script)]


def test_a_timeout_shorter_than_the_models_load_still_answers_the_first_visitor(tmp_path):
    """The timeout counts from the end of loading: a worker that loads for 3 s answers a station
    whose timeout is 1 s, the visit showing its loading stage first; a load past its own budget
    is stopped with a sentence for the visitor."""
    from generator.station.jobs import StationEngine

    engine = StationEngine(_request(tmp_path), timeout=1.0, command=_slow_loader(tmp_path, 3.0))
    try:
        visit = engine.submit(VISITOR, {}, 1, None)
        assert visit.done.wait(60)
        assert visit.stage == "done" and "loading" in visit.seen, (visit.stage, visit.message)
        assert engine.load_estimate() == 3.0  # the next visitor's page says "about 3 s"
    finally:
        engine.close()
    engine = StationEngine(_request(tmp_path), timeout=1.0, command=_slow_loader(tmp_path, 3600.0), load_seconds=1.0)
    try:
        visit = engine.submit(VISITOR, {}, 1, None)
        assert visit.done.wait(60)
        assert visit.stage == "error" and "took more than 1 seconds to load" in visit.message
        assert visit.worker.wait(10) is not None  # the stuck loader was stopped
    finally:
        engine.close()


def test_closing_the_station_starts_nothing_after_and_reaps_its_worker(tmp_path):
    """A visit taken just as the station closes never starts a fresh worker after close; the
    worker that ran is reaped and the dispatcher joined."""
    from generator.station.jobs import StationEngine

    engine = StationEngine(_request(tmp_path), timeout=30.0, command=_slow_loader(tmp_path, 0.0))
    first = engine.submit(VISITOR, {}, 1, None)
    assert first.done.wait(60) and first.stage == "done"
    proc = engine.proc
    engine.close()
    assert proc.returncode is not None and engine.proc is None and not engine._dispatcher.is_alive()
    late = engine.submit(VISITOR, {}, 1, None)
    assert late.stage == "error" and "closing" in late.message and engine.proc is None
