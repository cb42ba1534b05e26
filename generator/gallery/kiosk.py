"""`python build.py kiosk`: the exhibition page full-screen in Chromium, all day, unattended.

The browser gets the flags exhibition setups use (IMAGINARY's kiosk-browser and
FullPageOS make the same choices): kiosk mode, no error dialogs or crash
bubbles, no swipe-back, no pinch zoom, no update nags. Each start gets a fresh
profile in a temporary folder, so a crash never leaves a "restore pages"
bubble behind. When the browser exits or crashes it is started again, after a
back-off that doubles while it keeps failing fast.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

log = logging.getLogger(__name__)

KIOSK_FLAGS = (
    "--kiosk",
    "--noerrdialogs",
    "--disable-session-crashed-bubble",
    "--disable-infobars",
    "--overscroll-history-navigation=0",
    "--disable-pinch",
    "--check-for-update-interval=31536000",
    "--no-first-run",
    "--no-default-browser-check",
    "--password-store=basic",  # no keyring prompt on a desktop with none unlocked
    "--disable-features=Translate",
)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PROFILE = "<a fresh temporary folder>"


def find_browser(explicit: Path | None) -> str:
    """The browser to run: ``explicit`` if given (it must be an executable file), else the first Chromium on PATH."""
    if explicit is not None:
        if not explicit.is_file() or not os.access(explicit, os.X_OK):
            raise InputError(None, f"--browser {explicit}: not an executable file")
        return str(explicit)
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise InputError(None, f"no Chromium found (looked for {', '.join(BROWSERS)}): install Debian's chromium, or give --browser PATH")


def browser_command(browser: str, url: str, profile: str = PROFILE) -> list[str]:
    return [browser, *KIOSK_FLAGS, f"--user-data-dir={profile}", url]


def printable(command: list[str]) -> str:
    return shlex.join(command)


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before the next start: doubling from ``first`` up to ``most``
    while the browser keeps exiting within ``healthy`` seconds, back to ``first`` after a long run."""

    first: float = 1.0
    most: float = 60.0
    healthy: float = 60.0

    def next(self, previous: float, ran: float) -> float:
        return self.first if ran >= self.healthy or previous <= 0 else min(self.most, previous * 2)


def _stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Ask the browser and the processes it started (its own process group) to quit, then make
    sure; even when the browser itself has exited, its renderers may not have."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def supervise(browser: str, url: str, stop: threading.Event, backoff: Backoff = Backoff()) -> int:
    """Run the browser on ``url`` until ``stop`` is set, starting it again whenever it exits.
    Returns how many times it was started."""
    starts, delay = 0, 0.0
    while not stop.is_set():
        profile = tempfile.mkdtemp(prefix="vsr-kiosk-")
        command = browser_command(browser, url, profile)
        began = time.monotonic()
        try:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            shutil.rmtree(profile, ignore_errors=True)
            raise InputError(None, f"cannot start the browser {browser}: {exc.strerror or exc}") from None
        starts += 1
        log.info("browser started (pid %d, start %d): %s", proc.pid, starts, printable(command))
        try:
            while proc.poll() is None and not stop.wait(0.2):
                pass
        finally:
            _stop(proc)
            shutil.rmtree(profile, ignore_errors=True)
        if stop.is_set():
            break
        ran = time.monotonic() - began
        delay = backoff.next(delay, ran)
        how = f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exited with code {proc.returncode}"
        log.warning("the browser %s after %.1f s; starting it again in %.0f s", how, ran, delay)
        stop.wait(delay)
    return starts


def keep_open(url: str, browser: str, backoff: Backoff = Backoff()) -> int:
    """Keep the browser on ``url`` until Ctrl-C or SIGTERM (a systemd stop); the browser is
    never left running behind. Returns how many times it was started."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        return supervise(browser, url, stop, backoff)
    except KeyboardInterrupt:
        stop.set()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def browse_url(host: str, port: int) -> str:
    """Where the kiosk's own browser opens a server on ``host:port``: that address, or this
    machine's loopback when it is bound to every address."""
    from ..site.serve import everywhere

    host = "127.0.0.1" if everywhere(host) else host
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def kiosk_site(output: Path, host: str, port: int, browser: str, backoff: Backoff = Backoff()) -> int:
    """Serve ``output`` on ``host:port`` and keep the browser on its exhibition page."""
    from ..site.serve import open_server, url_of

    server = open_server(output, host, port)
    threading.Thread(target=server.serve_forever, name="kiosk-server", daemon=True).start()
    log.info("serving %s at %s", output, url_of(server))
    try:
        return keep_open(browse_url(host, server.server_address[1]) + "exhibition/", browser, backoff)
    finally:
        server.shutdown()
        server.server_close()
        log.info("kiosk stopped: browser closed, server down")


def kiosk_station(options, browser: str, backoff: Backoff = Backoff()) -> int:
    """Run the station (``StationOptions``) and keep the browser on it."""
    from ..station.serve import open_station

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    running = open_station(options)
    threading.Thread(target=running.server.serve_forever, name="kiosk-station", daemon=True).start()
    log.info("the station is at %s", running.url)
    try:
        return keep_open(browse_url(options.host, running.server.server_port), browser, backoff)
    finally:
        running.server.shutdown()
        running.close()
        log.info("kiosk stopped: browser closed, station down")
