"""The gallery: the exhibition loop in Chromium, the kiosk command and the wall label."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.site.builder import Paths, build
from tests.conftest import ROOT, interruptible, run_cli
from tests.test_browser import watch

FIRST = "78b02651dc5a"  # the fixture's first passage: two picked sentences, one of them markup
FIRST_ADDED = ["The cameras see far.", "<script>alert('x')</script> Markup {{ 7*7 }} {% if %} must stay text."]
FIRST_WORDS, FIRST_AFTER = 9, 9 + 4 + 11

# every mutation of the passage on screen, as (key, [text of each <ins>]), and every count shown
RECORDER = """
window.__shots = []; window.__counts = [];
new MutationObserver(() => {
  const p = document.querySelector('[data-exhibit-passage]');
  if (p) window.__shots.push([p.dataset.exhibitPassage, [...p.querySelectorAll('ins')].map(i => i.textContent)]);
  const c = document.querySelector('[data-words]');
  if (c) window.__counts.push(c.textContent);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

# Each passage's smallest font size, and whether it fitted its screen, at every change the loop makes.
SIZES = """
window.__sizes = {}; window.__order = [];
new MutationObserver(() => {
  const e = document.querySelector('[data-exhibit-passage]');
  if (!e) return;
  const key = e.dataset.exhibitPassage, size = parseFloat(getComputedStyle(e).fontSize);
  if (window.__order[window.__order.length - 1] !== key) window.__order.push(key);
  const fits = e.scrollHeight <= e.parentElement.clientHeight + 1, was = window.__sizes[key];
  window.__sizes[key] = was ? [Math.min(was[0], size), was[1] && fits] : [size, fits];
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

# Every input the loop listens for, and every change of its state, timed by the page's own clock.
INPUTS = """
window.__inputs = []; window.__states = [];
for (const type of ["pointerdown", "keydown", "wheel", "mousemove", "click"])
  addEventListener(type, () => window.__inputs.push(performance.now()), true);
new MutationObserver(() => window.__states.push([document.body.dataset.state, performance.now()]))
  .observe(document, {subtree: true, attributes: true, attributeFilter: ["data-state"]});
"""


@pytest.fixture
def served_site(site_paths, tmp_path):
    """The fixture exhibit built and served by the kiosk's own server (Host-checked, on 127.0.0.1)."""
    import threading

    from generator.site.serve import open_server, url_of

    build(site_paths)
    server = open_server(site_paths.output, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield url_of(server)
    server.shutdown()
    server.server_close()


def _first_passage_shots(page) -> list[list[str]]:
    return [ins for key, ins in page.evaluate("window.__shots") if key == FIRST]


# -- the loop ------------------------------------------------------------------


def test_the_loop_types_the_first_passage_in_order_and_the_count_climbs(browser, served_site):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    problems = watch(page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.add_init_script(RECORDER)
    page.goto(served_site + "exhibition/?speed=30&hold=60", wait_until="networkidle")  # a 2 s hold to look at the finished passage
    assert page.locator("body").get_attribute("data-state") == "playing"
    passage = page.locator(f'[data-exhibit-passage="{FIRST}"]')
    passage.wait_for(timeout=5000)
    page.wait_for_function(f"document.querySelector('[data-words]').textContent === '{FIRST_AFTER}'", timeout=8000)
    assert passage.locator("ins").all_inner_texts() == FIRST_ADDED  # the markup is text
    assert page.locator(".exhibition script, [data-exhibit-passage] script").count() == 0
    # typed word by word, sentence after sentence: every state is a prefix of the finished passage
    shots = _first_passage_shots(page)
    assert len(shots) > 10
    for ins in shots:
        done = ins[:-1] if ins else []
        assert done == FIRST_ADDED[: len(done)], ins
        if ins:
            assert FIRST_ADDED[len(ins) - 1].startswith(ins[-1]), ins
    assert any(len(ins) == 1 and ins[0] == "The" for ins in shots)  # one word at a time
    counts = [int(c) for c in page.evaluate("window.__counts")]
    climb = counts[counts.index(FIRST_WORDS):]
    climb = climb[: climb.index(FIRST_AFTER) + 1]
    assert climb == sorted(climb) and climb[0] == FIRST_WORDS and climb[-1] == FIRST_AFTER
    # offline: nothing leaves the site, nothing fails; nothing the model wrote ran
    assert all(u.startswith(served_site) for u in requests), requests
    assert problems == [] and dialogs == []
    # no way out, no scrolling, no selection; text readable from two metres
    assert page.locator("a[href]").count() == 0
    assert page.evaluate("document.documentElement.scrollHeight <= innerHeight && document.documentElement.scrollWidth <= innerWidth")
    assert page.evaluate("getComputedStyle(document.body).userSelect") == "none"
    assert float(passage.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px")) >= 28
    page.close()


LONG = " ".join(["The rover kept on talking about the dust on its wheels and the long cold night ahead"] * 12)


@pytest.mark.parametrize("viewport", [{"width": 1920, "height": 1080}, {"width": 1080, "height": 1920}])
def test_every_passage_fits_the_screen_and_none_is_set_below_28_px(browser, exhibit, tmp_path, viewport):
    """A passage too long for the screen shrinks, never below 28 px; every other one fits whole."""
    (exhibit / "essays" / "gamma.md").write_text(f"Title: Gamma\nOrder: 3\n\n{LONG}. {LONG}. {LONG}.\n")
    paths = Paths(exhibit, tmp_path / "out", ROOT / "site_templates", ROOT)
    build(paths)
    page = browser.new_page(viewport=viewport)
    page.add_init_script(SIZES)
    page.goto(_serve(paths.output) + "exhibition/?speed=200&hold=0.05")
    # every passage shown and typed to its end (the loop has gone on to the next), each word of it measured
    page.wait_for_function("Object.keys(window.__sizes).length >= 7 && window.__order.length >= 8", timeout=60_000)
    seen = {key: tuple(v) for key, v in page.evaluate("window.__sizes").items()}
    assert len(seen) == 7, seen
    long_key = [k for k in seen if k not in _fixture_keys(paths)][0]
    assert seen.pop(long_key)[0] == 28  # shrunk as far as it may go
    assert all(fits and size > 28 for size, fits in seen.values()), seen
    page.close()


def _fixture_keys(paths) -> set[str]:
    data = json.loads((paths.output / "exhibition" / "passages.json").read_text())
    return {p["key"] for e in data["essays"] if e["slug"] != "gamma" for p in e["passages"]}


def _serve(folder: Path) -> str:
    import threading

    from generator.site.serve import open_server, url_of

    server = open_server(folder, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return url_of(server)


def test_a_touch_pauses_and_after_the_idle_time_the_loop_plays_on_from_where_it_was(browser, served_site):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    problems = watch(page)
    page.add_init_script(RECORDER + INPUTS)
    page.goto(served_site + "exhibition/?speed=30&hold=60&idle=2")  # passages held 2 s: time to touch the third
    third = "79390c064fdc"
    page.locator(f'[data-exhibit-passage="{third}"]').wait_for()
    page.mouse.click(400, 400)
    body = page.locator("body")
    assert body.get_attribute("data-state") == "paused"
    shown = page.locator(f'[data-exhibit-passage="{third}"]')
    assert shown.locator(".side").count() == 2 and shown.locator("ins").all_inner_texts() == ["The joints are made of titanium and they bend in every direction."]
    assert page.locator("[data-words]").inner_text() == "28"
    # the visitor steps back, with the keys and the buttons
    page.keyboard.press("ArrowLeft")
    page.get_by_role("button", name="← previous").click()
    assert page.locator("[data-exhibit-passage]").get_attribute("data-exhibit-passage") == FIRST
    assert page.locator("[data-exhibit-passage] ins").all_inner_texts() == FIRST_ADDED
    page.keyboard.press("ArrowRight")  # with the focus on the button just tapped
    assert page.locator("[data-exhibit-passage]").get_attribute("data-exhibit-passage") == "b8faf2954de1"
    page.get_by_role("button", name="next →").click()
    page.evaluate("window.__shots = []")  # the loop stays paused for 2 s after this input
    page.wait_for_function("document.body.dataset.state === 'playing'", timeout=10_000)
    # input put the idle time back to its start: the loop played again no sooner than 2 s after the
    # last input (in the page's own clock: a timer never fires early), and not once in between
    touched, last, states = page.evaluate("[window.__inputs[0], window.__inputs[window.__inputs.length - 1], window.__states]")
    played = [t for state, t in states if state == "playing" and t > touched]
    assert played and played[0] >= last + 2000, (touched, last, states)
    # back where the loop was, typing it again: the visitor's passage and the controls are gone
    page.wait_for_function(f"document.querySelector('[data-exhibit-passage=\"{third}\"] ins')", timeout=4000)
    assert {key for key, _ in page.evaluate("window.__shots")} == {third}
    assert page.locator("#steps").is_hidden() and page.locator(".compare").count() == 0
    assert problems == []
    page.close()


def test_reduced_motion_crossfades_and_types_nothing(browser, served_site):
    context = browser.new_context(reduced_motion="reduce", viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.add_init_script(RECORDER)
    page.goto(served_site + "exhibition/?speed=30")
    page.wait_for_function(f"document.querySelector('[data-words]').textContent === '{FIRST_AFTER}'", timeout=8000)
    shots = [ins for ins in _first_passage_shots(page) if ins]
    assert shots and all(ins == FIRST_ADDED for ins in shots), shots[:5]
    counts = set(page.evaluate("window.__counts"))
    assert str(FIRST_WORDS + 4) not in counts  # never between the two counts
    context.close()


def test_orientation_portrait_turns_the_page_on_a_landscape_screen(browser, served_site):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(served_site + "exhibition/?orientation=portrait&speed=30")
    page.locator(f'[data-exhibit-passage="{FIRST}"]').wait_for()
    assert "turned" in page.locator("body").get_attribute("class")
    box = page.locator("main").bounding_box()  # laid out 1080 wide and 1920 tall, turned to fill the screen
    assert abs(box["width"] - 1920) < 2 and abs(box["height"] - 1080) < 2, box
    assert page.evaluate("document.querySelector('main').offsetWidth") == 1080
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth && document.documentElement.scrollHeight <= innerHeight")
    page.close()


# -- build ---------------------------------------------------------------------


def test_the_build_writes_the_loop_data_escaped_by_the_page_not_by_the_json(site_paths):
    build(site_paths)
    data = json.loads((site_paths.output / "exhibition" / "passages.json").read_text())
    assert [e["slug"] for e in data["essays"]] == ["alpha", "beta"]
    first = data["essays"][0]["passages"][0]
    assert first["key"] == FIRST and [a["text"] for a in first["added"]] == FIRST_ADDED
    assert first["words"] == FIRST_WORDS and sum(a["words"] for a in first["added"]) == FIRST_AFTER - FIRST_WORDS
    assert data["settings"] == {"seconds_per_word": 0.28, "hold_seconds": 6.0, "idle_seconds": 60.0, "orientation": "auto"}
    html = (site_paths.output / "exhibition" / "index.html").read_text()
    assert "model “fixture” (origin not recorded)" in html and "demo model" not in html and "<a " not in html


def test_exhibition_settings_choose_essays_and_order_and_refuse_bad_values(site_paths):
    toml = site_paths.layout.site_toml
    toml.write_text(toml.read_text() + '\n[exhibition]\nessays = ["beta", "alpha"]\nidle_seconds = 20\norientation = "portrait"\n')
    build(site_paths)
    data = json.loads((site_paths.output / "exhibition" / "passages.json").read_text())
    assert [e["slug"] for e in data["essays"]] == ["beta", "alpha"]
    assert data["settings"]["idle_seconds"] == 20 and data["settings"]["orientation"] == "portrait"
    base = toml.read_text()
    toml.write_text(base.replace('essays = ["beta", "alpha"]', 'essays = ["beta", "gamma"]'))
    with pytest.raises(InputError, match="exhibition.essays names 'gamma'") as err:
        build(site_paths)
    assert err.value.path == toml
    toml.write_text(base.replace('orientation = "portrait"', 'orientation = "sideways"'))
    with pytest.raises(InputError, match="orientation must be one of") as err:
        build(site_paths)
    assert err.value.line == base.splitlines().index('orientation = "portrait"') + 1


# -- the wall label --------------------------------------------------------------


def test_the_label_names_the_medium_from_the_records_and_its_qr_code_decodes_to_the_base_url(browser, site_paths, tmp_path):
    assert shutil.which("zbarimg"), "zbarimg comes from Debian's zbar-tools (tests/system-packages.sh)"
    build(site_paths)
    html = (site_paths.output / "label" / "index.html").read_text()
    assert ("Model “fixture” (origin not recorded), fine-tuned for one step on each "
            "three-sentence passage; 4 samples; sentences chosen by hand") in html
    assert "51 words before, 78 after" in html and "A hand-written test exhibit" in html
    page = browser.new_page()
    page.goto((site_paths.output / "label" / "index.html").as_uri())
    qr = page.locator("svg[data-qr]")
    assert qr.count() == 1
    png = tmp_path / "qr.png"
    qr.screenshot(path=str(png))
    r = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "https://example.org/vsr/"
    page.close()


@pytest.mark.parametrize("size, points", [("A6", (297.64, 419.53)), ("A5", (419.53, 595.28))])
def test_the_label_prints_on_exactly_one_sheet_of_its_size(browser, site_paths, size, points):
    toml = site_paths.layout.site_toml
    toml.write_text(toml.read_text() + f'\n[exhibition]\nlabel_size = "{size}"\n')
    build(site_paths)
    page = browser.new_page()
    page.goto((site_paths.output / "label" / "index.html").as_uri())
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    page.close()
    pages = re.findall(rb"/Type\s*/Page\b", pdf)
    boxes = [tuple(float(v) for v in m) for m in re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)]
    assert len(pages) == 1 and len(boxes) == 1, (len(pages), boxes)
    assert abs(boxes[0][0] - points[0]) < 1 and abs(boxes[0][1] - points[1]) < 1, boxes  # Chromium rounds to whole points


def test_without_a_base_url_the_label_has_no_qr_code_and_says_why(site_paths):
    toml = site_paths.layout.site_toml
    toml.write_text(toml.read_text().replace('base_url = "https://example.org/vsr/"', 'base_url = ""'))
    build(site_paths)
    html = (site_paths.output / "label" / "index.html").read_text()
    assert "data-qr" not in html and "No QR code: site.toml sets no base_url" in html


# -- the kiosk -------------------------------------------------------------------


def test_kiosk_dry_run_prints_the_browser_command_with_the_kiosk_flags(capsys, tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    assert run_cli("kiosk", "--dry-run", "--browser", str(browser), "--port", "8123", "--output", str(tmp_path / "never")) == 0
    line = capsys.readouterr().out.strip()
    for flag in ("--kiosk", "--noerrdialogs", "--disable-session-crashed-bubble", "--disable-infobars",
                 "--overscroll-history-navigation=0", "--disable-pinch", "--check-for-update-interval=31536000", "--user-data-dir="):
        assert flag in line
    assert line.startswith(str(browser)) and line.endswith("http://127.0.0.1:8123/exhibition/")
    assert not (tmp_path / "never").exists()  # built and served nothing
    assert run_cli("kiosk", "--dry-run", "--browser", str(tmp_path / "missing")) == 1


def test_kiosk_starts_a_browser_that_exits_again_with_back_off_and_stops_cleanly_on_ctrl_c(exhibit, tmp_path):
    launches = tmp_path / "launches"
    stand_in = tmp_path / "browser.sh"
    # a browser that records its start, checks that the page is served, and exits at once
    stand_in.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do url="$a"; done\n'
        f'profile=$(printf "%s\\n" "$@" | sed -n "s/^--user-data-dir=//p")\n'
        f'code=$({sys.executable} -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).status)" "$url")\n'
        f'echo "$(date +%s.%N) $code $profile $url" >> {launches}\n'
        "exit 3\n"
    )
    stand_in.chmod(0o755)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "kiosk", "--browser", str(stand_in), "--port", "0", "--content", str(exhibit), "--output", str(out)],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, **interruptible(),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not launches.exists() or len(launches.read_text().splitlines()) < 3):
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    rows = [line.split() for line in launches.read_text().splitlines()]
    assert len(rows) >= 3, err
    assert all(r[1] == "200" and r[3].endswith("/exhibition/") and r[3].startswith("http://127.0.0.1:") for r in rows)
    assert len({r[2] for r in rows}) == len(rows)  # a fresh profile each time ...
    assert not any(Path(r[2]).exists() for r in rows)  # ... removed after
    gaps = [float(b[0]) - float(a[0]) for a, b in zip(rows, rows[1:])]
    assert gaps[0] >= 1.0 and gaps[1] >= 2.0, gaps  # back-off: at least 1 s, then 2 s (a sleep never ends early; no upper bound)
    assert "starting it again in 1 s" in err and "starting it again in 2 s" in err
    assert proc.returncode == 0 and "kiosk stopped" in err


def test_kiosk_says_why_when_the_port_is_taken(exhibit, tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\nexit 0\n")
    browser.chmod(0o755)
    try:
        r = subprocess.run([sys.executable, str(ROOT / "build.py"), "kiosk", "--browser", str(browser), "--port", str(taken.getsockname()[1]),
                            "--content", str(exhibit), "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    finally:
        taken.close()
    assert r.returncode == 1 and "cannot serve on 127.0.0.1" in r.stderr and "try another --port" in r.stderr


def test_the_server_answers_only_to_its_own_host_name_and_forbids_framing(served_site):
    import http.client
    from urllib.parse import urlsplit

    port = urlsplit(served_site).port
    for host, status in ((f"127.0.0.1:{port}", 200), (f"localhost:{port}", 200), (f"evil.example:{port}", 403), ("", 403)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.putrequest("GET", "/exhibition/", skip_host=True)
        if host:
            conn.putheader("Host", host)
        conn.endheaders()
        r = conn.getresponse()
        r.read()
        assert r.status == status, host
        assert r.getheader("Content-Security-Policy") == "frame-ancestors 'none'" and r.getheader("X-Frame-Options") == "DENY"
        conn.close()


def test_axe_finds_nothing_on_the_loop_playing_or_paused(browser, served_site):
    from tests.test_web_checkers import AXE, axe_violations

    assert AXE.is_file(), "run: npm install --prefix tests/web (the axe-core package)"
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(served_site + "exhibition/?speed=30")
    page.locator(f'[data-exhibit-passage="{FIRST}"] ins').first.wait_for()
    playing = axe_violations(page)
    page.mouse.click(400, 400)
    assert playing == [] and axe_violations(page) == []
    page.close()


def test_check_names_gallery_settings_that_point_at_nothing(exhibit):
    from generator.check import check
    from generator.content.layout import ContentLayout

    toml = exhibit / "site.toml"
    toml.write_text(toml.read_text() + '\n[exhibition]\nessays = ["alpha", "gamma"]\n\n[station]\nexamples = ["beta:1", "beta:9"]\nblocklist = "words.txt"\n')
    found = [str(p) for p in check(ContentLayout(exhibit), templates=ROOT / "site_templates") if p.error]
    line = toml.read_text().splitlines().index('essays = ["alpha", "gamma"]') + 1
    assert f"{toml}:{line}: exhibition.essays names 'gamma', not an essay here (known: alpha, beta)" in found
    assert any("station.examples names 'beta:9'" in p for p in found) and not any("'beta:1'" in p for p in found)
    assert any("station.blocklist names 'words.txt', which is not there" in p for p in found)
    (exhibit / "words.txt").write_text("darn\n")
    toml.write_text(toml.read_text().replace('"gamma"', '"beta"').replace('"beta:9"', '"alpha:2"'))
    assert [p for p in check(ContentLayout(exhibit), templates=ROOT / "site_templates") if p.error] == []


def test_a_draft_named_for_the_loop_gets_one_message_from_check_and_the_build(exhibit, tmp_path, capsys):
    """check and the build say the same of a draft named in [exhibition] essays, with its line."""
    (exhibit / "essays" / "gamma.md").write_text("Title: Gamma\nStatus: draft\n\nOne. Two. Three.\n")
    toml = exhibit / "site.toml"
    toml.write_text(toml.read_text() + '\n[exhibition]\nessays = ["alpha", "gamma"]\n')
    message = "exhibition.essays names 'gamma', a draft: the loop plays published essays only (publish it, or take it off the list)"
    assert run_cli("check", "--content", str(exhibit)) == 1
    assert message in capsys.readouterr().err
    assert run_cli("--content", str(exhibit), "--output", str(tmp_path / "out"), "-q") == 1
    assert message in capsys.readouterr().err


def test_kiosk_says_why_when_the_browser_cannot_start(exhibit, tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/nonexistent/interpreter\n")  # executable, but nothing can run it
    browser.chmod(0o755)
    r = subprocess.run([sys.executable, str(ROOT / "build.py"), "kiosk", "--browser", str(browser), "--port", "0",
                        "--content", str(exhibit), "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and f"cannot start the browser {browser}" in r.stderr, r.stderr[-2000:]


SINKS = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write(ln)?|eval|Function)\s*[(=]|\.innerHTML\b|\bsetTimeout\(\s*['\"`]")


def test_no_script_of_the_site_or_the_station_turns_text_into_markup_or_code():
    """Generated and visitor text reaches these pages' DOM only as text: no script of the public
    site or the station has an HTML or code sink (the studio's sets the server's escaped HTML)."""
    scripts = sorted((ROOT / "site_templates" / "static").glob("*.js")) + sorted((ROOT / "generator" / "station" / "static").glob("*.js"))
    assert {p.name for p in scripts} >= {"exhibition.js", "reading.js", "station.js"}
    found = [f"{p.name}:{n}: {line.strip()}" for p in scripts for n, line in enumerate(p.read_text().splitlines(), 1) if SINKS.search(line)]
    assert found == []


def test_host_means_one_thing_for_serve_the_kiosk_the_studio_and_the_station(exhibit, tmp_path, capsys):
    """--host is where each listens; bound to every address, the site and the station answer
    whatever name a machine on the network uses (and the kiosk's own browser opens this
    machine's loopback); the studio, which writes the artist's files, refuses every address."""
    import http.client
    import threading

    from generator.errors import InputError
    from generator.site.serve import allowed_hosts
    from generator.station.serve import StationOptions, open_station
    from tests.conftest import serve_studio

    assert allowed_hosts("127.0.0.1", 8000) == {"127.0.0.1:8000", "localhost:8000"} and allowed_hosts("0.0.0.0", 8000) is None
    assert run_cli("kiosk", "--dry-run", "--browser", "/bin/true", "--host", "0.0.0.0", "--port", "8123") == 0
    assert "http://127.0.0.1:8123/exhibition/" in capsys.readouterr().out

    def answers(port: int, path: str, host: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", path, headers={"Host": host})
            return conn.getresponse().status
        finally:
            conn.close()

    station = open_station(StationOptions(content=exhibit, models_dir=tmp_path / "none", model=None, keep=None, host="0.0.0.0", port=0))
    threading.Thread(target=station.server.serve_forever, daemon=True).start()
    try:
        port = station.server.server_port
        assert answers(port, "/", f"gallery.local:{port}") == 200  # a name only the venue's network knows
    finally:
        station.server.shutdown()
        station.close()
    with pytest.raises(InputError, match="never on every address"):  # the studio writes the artist's files: never on every address
        serve_studio(exhibit, tmp_path, host="0.0.0.0")
    loopback = serve_studio(exhibit, tmp_path / "again")
    try:
        port = loopback.server.server_port
        assert answers(port, "/essays/alpha/", f"gallery.local:{port}") == 403  # on loopback, only its own names
    finally:
        loopback.server.shutdown()
        loopback.close()
