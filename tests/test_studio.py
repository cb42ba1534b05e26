"""The curation studio, worked in Debian's Chromium on the fixture exhibit: keyboard
decisions saved to the picks file, undo, reload, external edits, more samples from a
tiny checkpoint, and the guards of a local server that writes files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, LockWaits, heavy_imports, interruptible, serve_studio
from tests.stores import store_of
from tests.test_web_checkers import AXE, axe_violations





_open = serve_studio


@pytest.fixture
def studio(exhibit, tmp_path):
    running = _open(exhibit, tmp_path)
    yield running
    running.server.shutdown()
    running.close()


@pytest.fixture
def page(browser, studio):
    context = browser.new_context(bypass_csp=True)  # axe is injected as an inline script; the framing test keeps the CSP
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("dialog", lambda d: errors.append("a dialog opened: " + d.message))
    pg.errors = errors
    yield pg
    context.close()


def picks_of(exhibit: Path, slug: str = "alpha") -> dict:
    path = exhibit / "picks" / f"{slug}.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def entry(exhibit: Path, key: str, slug: str = "alpha") -> dict:
    return next((e for e in picks_of(exhibit, slug).get("passage", []) if e["key"] == key), {})


def _without_checks(doc: dict) -> dict:
    """The picks with the @CHECK each write adds (the fixture's hand-written file has none)."""
    return {"passage": [{**e, "picks": [p.split("@")[0] for p in e["picks"]]} for e in doc["passage"]]}


def _ratio(pg) -> str:
    return pg.locator("[data-ratio]").get_attribute("data-ratio")


def _focused(pg) -> tuple[str, str]:
    """The focused candidate's id and the key of its passage."""
    return pg.evaluate("() => [document.activeElement.dataset.candidate, document.activeElement.closest('[data-passage]').dataset.passage]")


def test_keyboard_accept_changes_ratio_and_the_picks_file_and_undo_takes_it_back(studio, page, exhibit):
    page.goto(studio.url + "essays/alpha/")
    before_ratio, before_file = _ratio(page), (exhibit / "picks" / "alpha.toml").read_text()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    ref, key = _focused(page)
    assert page.locator(f'[data-passage="{key}"] [data-candidate="{ref}"]').get_attribute("aria-pressed") == "false"
    page.keyboard.press("a")
    page.wait_for_function(f"() => document.querySelector('[data-passage=\"{key}\"] [data-candidate=\"{ref}\"]').getAttribute('aria-pressed') === 'true'")
    assert _ratio(page) != before_ratio and float(_ratio(page)) > float(before_ratio)
    saved = entry(exhibit, key)
    assert any(p.startswith(ref + "@") for p in saved["picks"]) and "auto" not in saved  # the artist's, with its check
    assert _focused(page) == [ref, key]  # focus stays on the candidate
    page.keyboard.press("u")
    page.wait_for_function(f"() => document.querySelector('[data-passage=\"{key}\"] [data-candidate=\"{ref}\"]').getAttribute('aria-pressed') === 'false'")
    assert _ratio(page) == before_ratio
    assert _without_checks(tomllib.loads((exhibit / "picks" / "alpha.toml").read_text())) == tomllib.loads(before_file)
    page.keyboard.press("Control+z")  # nothing left to undo: said, not failed
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('nothing to undo')")
    assert not page.errors


def test_reject_then_reload_keeps_every_decision(studio, page, exhibit):
    page.goto(studio.url + "essays/alpha/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    rejected, key = _focused(page)
    page.keyboard.press("x")
    page.wait_for_function(f"() => document.querySelector('[data-passage=\"{key}\"] [data-candidate=\"{rejected}\"]').dataset.state === 'rejected'")
    page.keyboard.press("j")
    accepted, key2 = _focused(page)
    page.keyboard.press("a")
    page.wait_for_function(f"() => document.querySelector('[data-passage=\"{key2}\"] [data-candidate=\"{accepted}\"]').getAttribute('aria-pressed') === 'true'")
    page.reload()
    assert page.locator(f'[data-passage="{key}"] [data-candidate="{rejected}"]').get_attribute("data-state") == "rejected"
    assert page.locator(f'[data-passage="{key}"] [data-candidate="{rejected}"]').get_attribute("aria-pressed") == "false"
    assert page.locator(f'[data-passage="{key2}"] [data-candidate="{accepted}"]').get_attribute("aria-pressed") == "true"
    assert _focused(page) == [accepted, key2]  # and the place in the essay
    assert [r.split("@")[0] for r in entry(exhibit, key)["rejected"]] == [rejected]
    assert accepted in [r.split("@")[0] for r in entry(exhibit, key2)["picks"]]


def test_an_edit_made_in_an_editor_is_never_lost(studio, page, exhibit):
    page.goto(studio.url + "essays/alpha/")
    path = exhibit / "picks" / "alpha.toml"
    edited = "# The artist's own note, written in an editor.\n" + path.read_text().replace(
        '"r34265cfd:1:0",  # markup, must be escaped', '"r34265cfd:1:0",  # markup, must be escaped\n  # keep this one')
    path.write_text(edited)
    page.keyboard.press("j")
    ref, key = _focused(page)
    page.keyboard.press("a")
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('changed outside the studio')")
    text = path.read_text()
    assert text.startswith("# The artist's own note, written in an editor.\n") and "# keep this one" in text
    assert ref in text
    # an unreadable edit: nothing is written until it is fixed
    path.write_text(edited + "\n[[passage\n")
    status = _post(studio, "essays/alpha/decide", {"action": "accept", "passage": key, "candidate": ref}, token=studio.token)
    assert status == 409 and path.read_text() == edited + "\n[[passage\n"


def _post(studio, path: str, body: dict, *, token: str | None = None, host: str | None = None) -> int:
    req = urllib.request.Request(studio.url + "api/" + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **({"X-Studio-Token": token} if token is not None else {}),
                                          **({"Host": host} if host else {})})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_posts_without_the_token_with_a_bad_one_or_a_foreign_host_are_refused(studio, exhibit):
    from generator.studio.session import Studio

    s = Studio(exhibit)
    key = s.essay("alpha").essay.passages[0].key
    ref = next(iter(s.essay("alpha").assessed[key]))
    path = exhibit / "picks" / "alpha.toml"
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    body = {"action": "accept", "passage": key, "candidate": ref}
    port = studio.server.server_port
    assert _post(studio, "essays/alpha/decide", body) == 403
    assert _post(studio, "essays/alpha/decide", body, token="x" * 43) == 403
    assert _post(studio, "essays/alpha/decide", body, token=studio.token, host=f"evil.example:{port}") == 403
    assert _post(studio, "essays/alpha/decide", body, token=studio.token, host=f"127.0.0.1:{port + 1}") == 403
    # unknown ids are 400, and nothing is written either
    assert _post(studio, "essays/nope/decide", body, token=studio.token) == 400
    assert _post(studio, "essays/alpha/decide", {**body, "passage": "ffffffffffff"}, token=studio.token) == 400
    assert _post(studio, "essays/alpha/decide", {**body, "candidate": "r00000000:0:0"}, token=studio.token) == 400
    assert _post(studio, "essays/alpha/decide", {**body, "candidate": "../../etc/passwd"}, token=studio.token) == 400
    assert _post(studio, "essays/alpha/decide", {**body, "action": "delete"}, token=studio.token) == 400
    assert _post(studio, "essays/alpha/more", {"passage": key}, token=studio.token) == 400  # no model here
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    # and a GET of a foreign Host gets nothing either
    req = urllib.request.Request(studio.url, headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 403
    assert _post(studio, "essays/alpha/decide", body, token=studio.token) == 200  # the real page's request works


def test_generated_text_is_escaped_and_axe_finds_nothing(studio, page):
    assert AXE.is_file(), "run: npm install --prefix tests/web (the axe-core package)"
    for url in ["", "essays/alpha/", "essays/beta/"]:
        page.goto(studio.url + url)
        assert axe_violations(page) == [], url
    page.goto(studio.url + "essays/alpha/")
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.locator("script").count() == 1  # studio.js, and nothing a sample wrote
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    assert axe_violations(page) == []
    page.keyboard.press("Escape")
    assert not page.errors


def test_keyboard_reaches_every_control_and_n_p_move_between_passages(studio, page, exhibit):
    page.goto(studio.url + "essays/alpha/")
    keys = page.evaluate("() => Array.from(document.querySelectorAll('[data-passage]'), s => s.dataset.passage)")
    seen = []
    for _ in keys:
        page.keyboard.press("n")
        seen.append(page.evaluate("() => document.activeElement.closest('[data-passage]').dataset.passage"))
    assert seen == keys  # every passage in turn, those without samples too
    page.keyboard.press("p")
    assert page.evaluate("() => document.activeElement.closest('[data-passage]').dataset.passage") == keys[-2]
    page.keyboard.press("n")
    page.keyboard.press("n")  # past the last passage: stays there
    assert page.evaluate("() => document.activeElement.closest('[data-passage]').dataset.passage") == keys[-1]
    page.evaluate("() => sessionStorage.clear()")  # start from the top again, not where the page was left
    page.goto(studio.url + "essays/alpha/")
    # the same run makes candidates in every passage, with the same ids: a decision lands in its own passage
    with_samples = page.evaluate("() => Array.from(document.querySelectorAll('[data-passage]'), s => s.dataset.passage).filter(k => document.querySelector(`[data-passage=\"${k}\"] [data-candidate]`))")
    first, second = with_samples[:2]
    page.keyboard.press("n")
    while _focused(page)[1] != second:
        page.keyboard.press("j")
    ref, key = _focused(page)
    assert page.locator(f'[data-passage="{first}"] [data-candidate="{ref}"]').count() == 1
    before, before_second = entry(exhibit, first), entry(exhibit, second)
    pressed = page.locator(f'[data-passage="{key}"] [data-candidate="{ref}"]').get_attribute("aria-pressed")
    flipped = "false" if pressed == "true" else "true"
    page.keyboard.press("a")
    page.wait_for_function(f"() => document.querySelector('[data-passage=\"{key}\"] [data-candidate=\"{ref}\"]').getAttribute('aria-pressed') === '{flipped}'")
    assert entry(exhibit, first) == before and entry(exhibit, second) != before_second
    assert any(r.startswith(ref) for r in entry(exhibit, second)["picks"]) == (flipped == "true")
    page.keyboard.press("k")  # back across the passage boundary, in document order
    assert _focused(page)[1] == first
    page.keyboard.press("Tab")  # leaves the candidate list for the reject button, then on
    assert page.evaluate("() => document.activeElement.tagName") == "BUTTON"


def test_auto_pick_clear_and_reorder_one_passage(browser, tmp_path):
    import shutil

    exhibit = tmp_path / "content"
    shutil.copytree(ROOT / "content", exhibit)  # the real exhibit: its passages have usable candidates
    studio = _open(exhibit, tmp_path)
    page = browser.new_page(bypass_csp=True)
    page.goto(studio.url + "essays/more-is-more/")
    section = page.locator("[data-passage]").first
    key = section.get_attribute("data-passage")
    section.get_by_role("button", name="Clear its picks").click()
    page.wait_for_function(f"() => !document.querySelector('[data-passage=\"{key}\"] ol.picks')")
    assert entry(exhibit, key, "more-is-more")["picks"] == [] and "auto" not in entry(exhibit, key, "more-is-more")
    section.get_by_role("button", name="Auto-pick this passage").click()
    page.wait_for_function(f"() => document.querySelector('[data-passage=\"{key}\"] ol.picks')")
    saved = entry(exhibit, key, "more-is-more")
    assert saved["picks"] and saved["auto"] is True
    if len(saved["picks"]) > 1:
        section.locator("ol.picks li").first.get_by_role("button", name="Move down").click()
        second = saved["picks"][1].split("@")[0]
        page.wait_for_function(f"() => document.querySelector('[data-passage=\"{key}\"] ol.picks li [data-ref]').dataset.ref === '{second}'")
        assert entry(exhibit, key, "more-is-more")["picks"] == [saved["picks"][1], saved["picks"][0], *saved["picks"][2:]]
    page.close()
    studio.server.shutdown()
    studio.close()


def test_more_samples_without_a_model_says_how_to_get_one(studio, page):
    page.goto(studio.url + "essays/alpha/")
    text = page.locator("[data-engine-missing]").first.inner_text()
    assert "train-demo-model" in text and "download-model" in text and "import-model" in text


def test_the_preview_is_the_published_page_rebuilt_after_each_decision(studio, page, exhibit, tmp_path):
    page.goto(studio.url + "essays/alpha/")
    page.keyboard.press("j")
    ref, key = _focused(page)
    page.keyboard.press("a")
    page.wait_for_function(f"() => document.querySelector('[data-passage=\"{key}\"] [data-candidate=\"{ref}\"]').getAttribute('aria-pressed') === 'true'")
    assert studio.preview.wait(studio.studio.version)
    text = page.locator(f'[data-passage="{key}"] [data-candidate="{ref}"] .cand-text').inner_text()
    preview = page.context.new_page()
    preview.goto(studio.url + "preview/essays/alpha/")
    assert text in preview.locator("main").inner_text()
    # what the build publishes has nothing of the studio in it
    from generator.site.builder import Options, Paths, build

    out = tmp_path / "out"
    build(Paths(content=exhibit, output=out, templates=ROOT / "site_templates", project=ROOT), Options())
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".html", ".js", ".css", ".xml", ".txt"):
            body = f.read_text()
            assert "studio" not in body.lower() and "data-candidate" not in body and studio.token not in body, f
    assert not (out / "preview").exists() and not (out / "static" / "studio.js").exists()
    # the preview's page is the published page, and its animations, drawn when asked for, the published bytes
    import re

    html = urllib.request.urlopen(studio.url + "preview/essays/alpha/").read().decode()
    assert html == (out / "essays" / "alpha" / "index.html").read_text()
    names = set(re.findall(r"gifs/([0-9a-f]{16})\.gif", html))
    assert names and studio.preview.pending  # at least one was left to draw
    for name in names:
        with urllib.request.urlopen(studio.url + f"preview/essays/alpha/gifs/{name}.gif") as r:
            assert r.headers["Content-Type"] == "image/gif"
            assert r.read() == (out / "essays" / "alpha" / "gifs" / f"{name}.gif").read_bytes()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(studio.url + "preview/essays/alpha/gifs/" + "0" * 16 + ".gif")


def test_more_samples_runs_the_engine_in_a_worker_and_appends_a_run(browser, exhibit, tmp_path, models):
    from generator.samples.store import load_cache

    running = _open(exhibit, tmp_path, models_dir=models, model="tiny")
    try:
        pg = browser.new_page(bypass_csp=True)
        pg.goto(running.url + "essays/beta/")
        section = pg.locator("[data-passage]").first
        key = section.get_attribute("data-passage")
        runs_before = section.locator(".run").count()
        pg.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert axe_violations(pg) == []  # the more-samples controls too
        section.get_by_role("button", name="More samples").click()
        # progress while it works: the worker starts and loads TensorFlow and the model first
        pg.wait_for_function(f"() => /loading tiny/.test(document.querySelector('[data-passage=\"{key}\"] .job').textContent)", timeout=60_000)
        pg.wait_for_function(f"n => document.querySelectorAll('[data-passage=\"{key}\"] .run').length > n", arg=runs_before, timeout=180_000)
        assert "New run" in section.locator(".job").inner_text()
        cache, warning = load_cache(store_of(exhibit, "beta"), "beta")
        assert warning is None and len(cache.passages[key].runs) == runs_before + 1
        run = cache.passages[key].runs[-1]
        assert run.model == "tiny" and len(run.samples) == 10 and (run.params.top_k, run.params.temperature) == (30, 0.8)
        assert section.locator("[data-candidate]").count() > 0
        # the next one is the next rung, with the model still loaded
        section.get_by_role("button", name="More samples").click()
        pg.wait_for_function(f"n => document.querySelectorAll('[data-passage=\"{key}\"] .run').length > n", arg=runs_before + 1, timeout=120_000)
        cache, _ = load_cache(store_of(exhibit, "beta"), "beta")
        assert cache.passages[key].runs[-1].params.top_k == 40
        assert running.engine.proc is not None and running.engine.proc.poll() is None  # one worker, still up
    finally:
        running.server.shutdown()
        running.close()


def test_the_web_process_never_imports_tensorflow(exhibit, tmp_path):
    code = f"""
from pathlib import Path
from generator.studio.serve import StudioOptions, open_studio
r = open_studio(StudioOptions(content=Path({str(exhibit)!r}), models_dir=Path({str(tmp_path)!r}), model=None, ratio=2.0,
                preview=Path({str(tmp_path / 'preview')!r}), templates=Path({str(ROOT / 'site_templates')!r}), project=Path({str(ROOT)!r}), port=0))
client = r.server.app.test_client()
page = client.get("/essays/alpha/", headers={{"Host": "127.0.0.1:%d" % r.server.server_port}})
assert page.status_code == 200
"""
    assert heavy_imports(code, tmp_path) == []


def test_more_samples_climbs_the_escalation_ladder_then_draws_new_batches():
    from generator.samples.cache import Params, PassageSamples, Run
    from generator.samples.policy import next_params

    base = Params(temperature=0.8, top_k=30, length=100, seed=2019, finetune_steps=1, learning_rate=1e-4)
    entry = PassageSamples("A passage.")
    seen = []
    for _ in range(5):
        p = next_params(entry, "fast", "sha256:x", base)
        seen.append((p.top_k, p.temperature))
        entry.add(Run("m", "sha256:x", "fast", p, ("a sample",)))
    assert seen == [(30, 0.8), (40, 0.8), (80, 0.9), (80, 0.9), (80, 0.9)]
    assert len({r.params.seed for r in entry.runs}) == 5  # each batch a seed of its own


def test_the_command_serves_the_studio_and_stops_cleanly(exhibit, tmp_path):
    import re
    import signal

    proc = subprocess.Popen([sys.executable, "build.py", "studio", "--content", str(exhibit), "--preview", str(tmp_path / "preview"),
                             "--models-dir", str(tmp_path), "--port", "0"], cwd=ROOT, stderr=subprocess.PIPE, text=True, **interruptible())
    try:
        lines = []
        while not (url := re.search(r"http://127\.0\.0\.1:\d+/", lines[-1] if lines else "")):
            lines.append(proc.stderr.readline())
            assert lines[-1], lines  # the studio stopped before it said where it is
        with urllib.request.urlopen(url.group(0) + "essays/alpha/") as r:
            page = r.read().decode()
        assert r.status == 200 and 'name="studio-token"' in page and "data-candidate=" in page
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


def test_pages_answer_while_another_writer_holds_the_picks_file(studio, exhibit):
    """A decision waits for the picks file's lock (as when `pick` rewrites it); the studio's
    pages do not wait with it."""
    import re

    from generator.locking import locked

    html = urllib.request.urlopen(studio.url + "essays/alpha/", timeout=30).read().decode()
    key, ref = re.search(r'data-passage="([0-9a-f]{12})".*?data-candidate="([^"]+)"', html, re.S).groups()
    path = exhibit / "picks" / "alpha.toml"
    result: dict = {}
    with LockWaits(path) as waiting:
        with locked(path):  # held here, as `pick` holds it while it rewrites the file
            decision = threading.Thread(target=lambda: result.update(status=_post(
                studio, "essays/alpha/decide", {"action": "accept", "passage": key, "candidate": ref}, token=studio.token)))
            decision.start()
            assert waiting.event.wait(30), "the decision never waited for the picks file's lock"
            for url in ("essays/alpha/", "", f"api/essays/alpha/passages/{key}"):  # each within the bound, or urlopen raises
                with urllib.request.urlopen(studio.url + url, timeout=5) as r:
                    assert r.status == 200
            assert decision.is_alive()  # the pages answered while the decision still waited
        decision.join(30)
    assert result == {"status": 200} and ref in path.read_text()


def test_a_long_text_is_curated_a_chapter_at_a_time(exhibit, tmp_path):
    """As the site publishes it: a novel's every passage with its candidates on one page was 30 MB
    (bench/novel.py's 1,464 passages), a chapter's is 1.5 MB."""
    import shutil
    import urllib.error

    from generator.content.essays import parse_essay
    from generator.site.chapters import chapters_of
    from generator.config import ChapterSettings

    shutil.copy(ROOT / "tests" / "fixtures" / "writing" / "essays" / "writing.md", exhibit / "essays")
    with (exhibit / "site.toml").open("a") as toml:
        toml.write("\n[chapters]\nafter = 6\nevery = 3\n")
    chapters = chapters_of(parse_essay(exhibit / "essays" / "writing.md"), ChapterSettings(after=6, every=3))
    running = serve_studio(exhibit, tmp_path)

    def get(path: str) -> str:
        with urllib.request.urlopen(running.url + path) as r:
            return r.read().decode()

    def shown(page: str) -> list[str]:
        return re.findall(r'<section class="studio-passage" data-passage="([0-9a-f]+)"', page)

    try:
        first = get("essays/writing/")
        assert shown(first) == [p.key for p in chapters[0].passages]
        assert 'rel="next" href="?chapter=2"' in first and 'rel="prev"' not in first
        for c in chapters:
            page = get(f"essays/writing/?chapter={c.number}")
            assert shown(page) == [p.key for p in c.passages], c.number
            assert f'href="/preview/essays/writing/{c.number}/"' in page  # the preview opens on the same chapter
        assert 'rel="next"' not in get(f"essays/writing/?chapter={len(chapters)}")
        for bad in (len(chapters) + 1, 0, "x"):
            with pytest.raises(urllib.error.HTTPError) as err:
                get(f"essays/writing/?chapter={bad}")
            assert err.value.code == 404
        alpha = get("essays/alpha/")  # a short essay: one page, as before
        assert len(shown(alpha)) == len(parse_essay(exhibit / "essays" / "alpha.md").passages) and 'aria-label="Chapters"' not in alpha
    finally:
        running.server.shutdown()
        running.close()
