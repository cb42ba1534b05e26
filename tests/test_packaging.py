"""requirements.txt says which part needs each package, and an install of a part's lines runs it:
the site (`python build.py`, `check`, the Pages deploy), and on top of it the studio's lines
(`pick`, the studio, the station). Checked by running each part and naming the installed
distributions whose modules it imported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PARTS = ("site", "studio", "engine", "ray", "book")
LINE = re.compile(r"^([A-Za-z0-9_.\-]+)==\S+\s+#\s*([a-z ]+)$")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> dict[str, set[str]]:
    """Each pinned distribution and the parts its line names."""
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = LINE.match(line)
        assert match, f"requirements.txt: {line!r} does not say which part needs it (# site, studio or engine)"
        tags = set(match.group(2).split())
        assert tags and tags <= set(PARTS), f"requirements.txt: {line!r} names a part that is not one of {PARTS}"
        out[_normal(match.group(1))] = tags
    return out


def _imported_distributions(code: str, cwd: Path) -> set[str]:
    """The installed distributions whose top-level modules ``code`` imported, run in a fresh Python."""
    probe = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n{code}\n"
             "import importlib.metadata, json\n"
             "owners = importlib.metadata.packages_distributions()\n"
             "found = {d for m in list(sys.modules) for d in owners.get(m.split('.')[0], [])}\n"
             "print(json.dumps(sorted(found)))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return {_normal(d) for d in json.loads(out.stdout.strip().splitlines()[-1])}


def test_every_requirement_says_which_part_needs_it():
    reqs = requirements()
    assert {"filelock", "tomlkit"} <= {d for d, tags in reqs.items() if "studio" in tags}  # `pick` and the studio write under locks
    assert "tensorflow" in reqs and reqs["tensorflow"] == {"engine"}
    assert reqs["ray"] == {"ray"}  # optional: only generate --ray needs it
    assert reqs["ebooklib"] == {"book"}  # the site's build never imports it


@pytest.mark.parametrize("part", ["site", "studio"])
def test_a_part_imports_only_what_its_lines_and_the_lines_below_it_install(part, exhibit, tmp_path):
    site = (f"import build\nassert build.main(['--content', {str(exhibit)!r}, '--output', {str(tmp_path / 'out')!r}, '-q']) == 0\n"
            f"assert build.main(['check', '--content', {str(exhibit)!r}, '--models-dir', {str(tmp_path / 'none')!r}]) == 0\n")
    studio = (f"assert build.main(['pick', '--content', {str(exhibit)!r}, '--force', '-q']) == 0\n"
              "import generator.studio.serve, generator.station.serve, generator.studio.app, generator.station.app\n")
    installed = {d for d, tags in requirements().items() if tags & ({"site"} if part == "site" else {"site", "studio"})}
    used = _imported_distributions(site + (studio if part == "studio" else ""), tmp_path)
    pinned = set(requirements())
    # What Python itself imports here (a .pth hook of this machine's: certifi), and Pygments, which
    # Markdown's fenced-code extension imports when it is there to see whether code could be
    # highlighted (it is not asked to, so the pages are the same bytes without it).
    ambient = _imported_distributions("", tmp_path) | {"pygments"}
    unlisted = used - pinned - ambient
    assert not unlisted, f"imported but not in requirements.txt: {sorted(unlisted)}"
    assert used & pinned <= installed, f"the {part} imports {sorted((used & pinned) - installed)}, which its lines do not install"


@pytest.mark.parametrize("command", ["studio", "pick"])
def test_a_missing_module_is_named_as_itself(command, exhibit, tmp_path):
    code = ("import sys\nsys.modules['filelock'] = None  # as on an install of the site's lines alone\n"
            f"sys.path.insert(0, {str(ROOT)!r})\nimport build\n"
            f"sys.exit(build.main([{command!r}, '--content', {str(exhibit)!r}]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "needs the Python module 'filelock', which is not installed" in out.stderr and "marked site and studio" in out.stderr
