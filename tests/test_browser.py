"""Real-browser tests: Debian's Chromium driven by Playwright, the site served under a sub-path."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from generator.site.builder import build

SUBPATH = "verbosified-space-rovers"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass




@pytest.fixture
def served(site_paths, tmp_path):
    """The fixture exhibit built into <root>/verbosified-space-rovers/ and served from <root>."""
    root = tmp_path / "www"
    paths = site_paths.__class__(site_paths.content, root / SUBPATH, site_paths.templates, site_paths.project)
    build(paths)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{SUBPATH}/"
    server.shutdown()


def watch(page):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # ERR_ABORTED is the browser cancelling a load because the page moved on (a lazy image still
    # in flight when the test navigates): never a missing or broken file, which the response shows
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} ({r.failure})") if r.failure != "net::ERR_ABORTED" else None)
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    return problems


def test_essay_page_dropdown_and_reading_switch(browser, served):
    page = browser.new_page()
    problems = watch(page)
    page.goto(served + "essays/alpha/", wait_until="networkidle")
    passage = page.locator('[data-passage="78b02651dc5a"]')
    details = passage.locator("details")
    assert not details.evaluate("d => d.open")
    passage.locator("summary").click()
    assert details.evaluate("d => d.open")
    verbosified = details.locator(".side").nth(1)
    assert verbosified.is_visible() and "The cameras see far." in verbosified.inner_text()
    assert verbosified.locator("ins").first.is_visible()
    # the page-level switch hides the inserted sentences in the reading text
    inserted = passage.locator(".passage-text ins").first
    assert inserted.is_visible()
    page.locator('label[for="reading-original"]').click()
    assert not inserted.is_visible()
    page.locator('label[for="reading-verbosified"]').click()
    assert inserted.is_visible()
    # every other page loads cleanly too, stylesheet included
    for url in ("", "method/", "essays/beta/"):
        page.goto(served + url, wait_until="networkidle")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(5, 6, 13)"
    assert problems == []


def test_keyboard_only(browser, served):
    page = browser.new_page()
    page.goto(served + "essays/alpha/")
    summary = page.locator('[data-passage="78b02651dc5a"] summary')
    for _ in range(40):
        page.keyboard.press("Tab")
        if summary.evaluate("s => s === document.activeElement"):
            break
    else:
        pytest.fail("the first dropdown was not reachable with Tab")
    page.keyboard.press("Enter")
    assert summary.evaluate("s => s.parentElement.open")
    page.locator("#reading-verbosified").focus()
    page.keyboard.press("ArrowRight")
    assert page.locator("#reading-original").is_checked()
    assert not page.locator('[data-passage="78b02651dc5a"] .passage-text ins').first.is_visible()


def test_javascript_disabled_keeps_all_text(browser, served):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served + "essays/alpha/")
    body = page.locator("main").inner_text()
    for text in ("Rovers drive slowly.", "The cameras see far.", "Nobody knows when."):
        assert text in body
    page.locator('[data-passage="78b02651dc5a"] summary').click()
    assert page.locator('[data-passage="78b02651dc5a"] details').evaluate("d => d.open")
    page.locator('label[for="reading-original"]').click()
    assert not page.locator('[data-passage="78b02651dc5a"] .passage-text ins').first.is_visible()
    context.close()


class _PagesHandler(_QuietHandler):
    """GitHub Pages' way: a missing path is answered with the site's 404.html, status 404."""

    def send_error(self, code, message=None, explain=None):
        if code != 404:
            return super().send_error(code, message, explain)
        body = (Path(self.directory) / SUBPATH / "404.html").read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def test_404_works_on_a_project_site(browser, site_paths, tmp_path):
    """Built with --base-url, 404.html served at a deep missing URL under the sub-path resolves everything."""
    from generator.site.builder import Options

    root = tmp_path / "pages"
    paths = site_paths.__class__(site_paths.content, root / SUBPATH, site_paths.templates, site_paths.project)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_PagesHandler, directory=str(root)))
    site = f"http://127.0.0.1:{server.server_address[1]}/{SUBPATH}/"
    build(paths, Options(base_url=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        problems = watch(page)
        missing = site + "no/such/page/"
        page.goto(missing, wait_until="networkidle")
        assert "Lost in deep space" in page.locator("h1").inner_text()
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(5, 6, 13)"
        hrefs = page.eval_on_selector_all("a[href], link[href], img[src]", "els => els.map(e => e.href || e.src)")
        for url in hrefs:
            if url.startswith("http"):
                assert url.startswith(site), url
                if "#" not in url:
                    assert page.request.get(url).status == 200, url
        page.get_by_role("link", name="Return to the exhibit").click()
        page.wait_for_load_state("networkidle")
        assert page.url == site and "Alpha Essay" in page.locator("main").inner_text()
        # the missing page itself (and Chromium's console line about it), nothing else
        assert sorted(problems) == sorted([f"404: {missing}", "console error: Failed to load resource: the server responded with a status of 404 (Not Found)"])
    finally:
        server.shutdown()
