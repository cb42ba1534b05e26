#!/usr/bin/env python3
"""The gallery pages' weight, and their screenshots.

    python bench/gallery.py [--output output] [--screenshots DIR [--station MODEL]]

Serves a built site (python build.py) on 127.0.0.1 and opens exhibition/ in
headless Debian Chromium at 1920x1080. Prints every request the page makes,
its bytes, and the total with and without fonts (target: under 150 KB, fonts
apart). With --screenshots, writes the loop mid-passage at 1920x1080 and
1080x1920, the paused view, and the wall label as printed (exhibition-*.png,
label.png), as the README shows them; with --station MODEL (a folder in
models/, such as the demo model from `python build.py train-demo-model`), the
station answering a passage of the first essay as well (station.png).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.site.serve import open_server, url_of  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FONT = (".woff2", ".woff", ".ttf", ".otf")


def weigh(browser, base: str) -> None:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    sizes: dict[str, int] = {}
    page.on("requestfinished", lambda r: sizes.__setitem__(r.url, r.sizes()["responseBodySize"]))
    page.goto(base + "exhibition/", wait_until="networkidle")
    page.close()
    fonts = sum(n for u, n in sizes.items() if u.endswith(FONT))
    for url, n in sorted(sizes.items()):
        print(f"{n:>9,} B  {url.removeprefix(base)}")
    total = sum(sizes.values())
    print(f"{total:>9,} B  in all, {len(sizes)} requests; {total - fonts:,} B without fonts ({fonts:,} B of fonts)")
    outside = [u for u in sizes if not u.startswith(base)]
    print("requests outside the site:", outside or "none")


def screenshots(browser, base: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, viewport in (("exhibition-landscape", (1920, 1080)), ("exhibition-portrait", (1080, 1920))):
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.goto(base + "exhibition/?speed=3&hold=1")
        page.wait_for_function("document.querySelectorAll('[data-exhibit-passage] ins').length >= 1", timeout=60000)
        time.sleep(0.8)  # the first sentence partly typed
        page.screenshot(path=str(folder / f"{name}.png"))
        if name.endswith("landscape"):
            page.mouse.click(300, 300)
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.screenshot(path=str(folder / "exhibition-paused.png"))
        page.close()
    page = browser.new_page(viewport={"width": 700, "height": 900})
    page.goto(base + "label/")
    page.emulate_media(media="print")
    page.locator("main").screenshot(path=str(folder / "label.png"))
    page.close()
    print("screenshots in", folder)


def station_screenshot(browser, model: str, folder: Path) -> None:
    import logging

    from generator.content import read_essays
    from generator.content.layout import ContentLayout
    from generator.station.serve import StationOptions, open_station

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    passage = read_essays(ContentLayout(ROOT / "content"))[0].passages[0].text
    running = open_station(StationOptions(content=ROOT / "content", models_dir=ROOT / "models", model=model, port=0))
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(running.url)
        page.locator("textarea").fill(passage)
        page.get_by_role("button", name="Verbosify").click()
        page.locator('[data-column="tamed"][data-state="done"]').wait_for(timeout=600_000)
        page.screenshot(path=str(folder / "station.png"))
        page.close()
    finally:
        running.server.shutdown()
        running.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", type=Path, default=ROOT / "output", help="a built site (python build.py)")
    ap.add_argument("--screenshots", type=Path, metavar="DIR", help="also write the screenshots here")
    ap.add_argument("--station", metavar="MODEL", help="with --screenshots: the station too, answering with this model")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    server = open_server(args.output.resolve(), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = url_of(server)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        weigh(browser, base)
        if args.screenshots:
            screenshots(browser, base, args.screenshots)
            if args.station:
                station_screenshot(browser, args.station, args.screenshots)
        browser.close()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
