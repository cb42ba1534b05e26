import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_top_level_help_lists_commands():
    from tests.test_guards import COMMANDS

    r = subprocess.run([sys.executable, "build.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0
    for c in COMMANDS:
        assert c in r.stdout


def test_site_build_never_imports_tensorflow(exhibit, tmp_path):
    code = (
        "import sys, build\n"
        f"rc = build.main(['--content', {str(exhibit)!r}, '--output', {str(tmp_path / 'o')!r}, '-q'])\n"
        "heavy = [m for m in ('tensorflow', 'gpt_2_simple', 'tqdm') if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.strip() == "0 []", r.stderr


def test_serve_builds_serves_and_rebuilds(exhibit, tmp_path):
    """serve: the page is served, and an edit to content/ shows up without a restart."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "served"
    proc = subprocess.Popen(
        [sys.executable, "build.py", "serve", "--content", str(exhibit), "--output", str(out), "--port", str(port), "-q"],
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}/essays/beta/"

        def fetch() -> str:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()

        deadline = time.time() + 20
        while True:
            try:
                assert "Beta has one paragraph" in fetch()
                break
            except (OSError, AssertionError):
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        essay = exhibit / "essays" / "beta.md"
        essay.write_text(essay.read_text().replace("It is short.", "It is served fresh."))
        deadline = time.time() + 20
        while "It is served fresh." not in fetch():
            assert time.time() < deadline, "serve did not rebuild after the edit"
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_tests_that_press_ctrl_c_pass_when_the_suite_starts_with_sigint_ignored(tmp_path):
    """A suite started from a background job (`pytest &`, a CI runner) ignores SIGINT, and every
    child inherits that: the tests that stop a child with Ctrl-C start it able to receive it."""
    import signal

    code = ("import signal, sys, pytest\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', *sys.argv[1:]]))\n")
    tests = ["tests/test_studio.py::test_the_command_serves_the_studio_and_stops_cleanly",
             "tests/test_gallery.py::test_kiosk_starts_a_browser_that_exits_again_with_back_off_and_stops_cleanly_on_ctrl_c"]
    sources = [(ROOT / t.split("::")[0]).read_text() for t in tests]
    assert all(t.split("::")[1] in s for t, s in zip(tests, sources))
    pressing = [p.name for p in sorted((ROOT / "tests").glob("test_*.py")) if p.name != Path(__file__).name and "send_signal(signal.SIGINT)" in p.read_text()]
    assert pressing == ["test_gallery.py", "test_studio.py"]  # every test that presses Ctrl-C is run here
    out = subprocess.run([sys.executable, "-c", code, *tests], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert out.returncode == 0, out.stdout[-3000:]
