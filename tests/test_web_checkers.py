"""The site held to the web's own checkers: Nu Html Checker, axe-core, a link
checker, and a real browser on every page. .ci/run installs them (Java,
tests/web's npm packages, linkchecker from pip)."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from generator.site.builder import Paths, build
from tests.conftest import ROOT
from tests.test_browser import SUBPATH, _QuietHandler, watch

WEB = ROOT / "tests" / "web" / "node_modules"
VNU = WEB / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE = WEB / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """The real exhibit and the fixture exhibit (markup in samples, and the essay of ordinary
    Markdown from tests/fixtures/writing), built under a sub-path and served."""
    root = tmp_path_factory.mktemp("www")
    real, fixture = root / "real" / SUBPATH, root / "fixture" / SUBPATH
    content, fixture_content = root / "content", root / "fixture-content"
    shutil.copytree(ROOT / "content", content)
    build(Paths(content, real, ROOT / "site_templates", ROOT))
    shutil.copytree(ROOT / "tests" / "fixtures" / "exhibit", fixture_content)
    shutil.copy(ROOT / "tests" / "fixtures" / "writing" / "essays" / "writing.md", fixture_content / "essays")
    with (fixture_content / "site.toml").open("a") as toml:  # the 8-passage essay in chapters of 3: the contents and chapter pages checked too
        toml.write("\n[chapters]\nafter = 6\nevery = 3\n")
    build(Paths(fixture_content, fixture, ROOT / "site_templates", ROOT))
    assert (fixture / "essays" / "writing" / "3" / "index.html").is_file() and not (fixture / "essays" / "alpha" / "1").exists()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield {"real": (real, f"{base}/real/{SUBPATH}/"), "fixture": (fixture, f"{base}/fixture/{SUBPATH}/")}
    server.shutdown()


def pages(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix().removesuffix("index.html") for p in folder.rglob("*.html"))




@pytest.mark.parametrize("which", ["real", "fixture"])
def test_nu_html_checker_finds_no_errors(sites, which):
    assert VNU.is_file(), "run: npm install --prefix tests/web (the vnu-jar package)"
    folder, _ = sites[which]
    r = subprocess.run(["java", "-jar", str(VNU), "--errors-only", "--skip-non-html", str(folder)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr[:3000]


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id + ': ' + v.nodes.length + ' ' + v.help)")
    return result


@pytest.mark.parametrize("which", ["real", "fixture"])
def test_axe_finds_no_violations_in_either_reading_with_dropdowns_open(sites, browser, which):
    assert AXE.is_file(), "run: npm install --prefix tests/web (the axe-core package)"
    folder, base = sites[which]
    page = browser.new_page()
    problems = watch(page)
    found = {}
    for url in pages(folder):
        page.goto(base + url, wait_until="networkidle")
        found[url] = axe_violations(page)
        if page.locator("details").count():
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            found[url + " (dropdowns open)"] = axe_violations(page)
            page.locator('label[for="reading-original"]').click()
            found[url + " (original reading)"] = axe_violations(page)
    assert {k: v for k, v in found.items() if v} == {}
    assert problems == []


def test_link_checker_finds_nothing_broken(sites):
    exe = shutil.which("linkchecker")
    assert exe, "pip install linkchecker (tests/requirements.txt)"
    _, base = sites["real"]
    r = subprocess.run([exe, "--no-status", "--no-warnings", "--threads", "4", base], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:]


def test_every_page_loads_cleanly_and_no_generated_script_runs(sites, browser):
    for which in ("real", "fixture"):
        folder, base = sites[which]
        page = browser.new_page()
        problems = watch(page)
        dialogs: list[str] = []
        page.on("dialog", lambda d, seen=dialogs: (seen.append(d.message), d.dismiss()))
        for url in pages(folder):
            page.goto(base + url, wait_until="networkidle")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            # the opened dropdowns start their lazy animations: let them finish (and be checked)
            # before the next page, whose navigation would otherwise abort them mid-flight
            page.wait_for_load_state("networkidle")
        assert problems == [] and dialogs == [], (which, problems, dialogs)
        page.close()
    _, base = sites["fixture"]
    page = browser.new_page()
    for url, text in (("alternatives/", "</script><script>alert('explore')</script>"), ("explore/", "{{ 7*7 }}"), ("essays/alpha/", "<script>alert('x')</script>")):
        page.goto(base + url)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert text in page.locator("main").inner_text(), url  # shown as text
    assert "␅" in page.goto(base + "alternatives/").text()


PLAYED = {"exhibition/"}  # the gallery loop is played by its script; without one it shows its title card and says so


def test_every_page_reads_the_same_with_javascript_off(sites, browser):
    folder, base = sites["real"]
    on = browser.new_page()
    context = browser.new_context(java_script_enabled=False)
    off = context.new_page()
    for url in pages(folder):
        off.goto(base + url)
        text = off.locator("main").inner_text()
        if url in PLAYED:
            assert "Verbosified Space Rovers" in text and "JavaScript, which is turned off" in text, url
            continue
        on.goto(base + url)
        assert text.strip() and text == on.locator("main").inner_text(), url
    context.close()
    on.close()


def test_no_page_scrolls_sideways_on_a_phone(sites, browser):
    """At a phone's width (390 CSS px) every page fits: wide tables scroll inside their own region."""
    folder, base = sites["real"]
    page = browser.new_page(viewport={"width": 390, "height": 844})
    wide = {}
    for url in pages(folder):
        page.goto(base + url, wait_until="networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide[url] = width
    page.close()
    assert wide == {}
