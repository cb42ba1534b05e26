"""Bad input: one clear line naming the file (and line), exit 1, the previous output/ untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import run_cli


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


BAD = {
    "non-utf8 essay": ("essays/beta.md", b"Title: Beta\n\nCaf\xe9 au lait on Mars.\n", "beta.md:3: not valid UTF-8"),
    "empty essay": ("essays/beta.md", b"", "beta.md:1: missing meta-data header"),
    "header only": ("essays/beta.md", b"Title: Beta\n\n", "beta.md:3: the essay has no text"),
    "malformed header": ("essays/beta.md", b"Title: Beta\nthis line is not meta\n\nBody.\n", "beta.md:2: malformed meta-data line"),
    "unknown site.toml key": ("site.toml", b'title = "x"\n\nsubtitel = "typo"\n', "site.toml:3: unknown key 'subtitel'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_one_line_exit_1_output_untouched(exhibit, tmp_path, capsys, case):
    out = tmp_path / "site"
    assert run_cli("--content", str(exhibit), "--output", str(out), "-q") == 0
    before = snapshot(out)
    name, data, message = BAD[case]
    (exhibit / name).write_bytes(data)
    capsys.readouterr()
    assert run_cli("--content", str(exhibit), "--output", str(out)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("error: ")
    assert snapshot(out) == before


def test_very_long_paragraph_builds(exhibit, tmp_path):
    words = " ".join(f"Sentence {i} is one more about the slow rover on the red plain." for i in range(420))
    (exhibit / "essays" / "long.md").write_text(f"Title: Long\n\n{words}\n")
    out = tmp_path / "site"
    assert run_cli("--content", str(exhibit), "--output", str(out), "-q") == 0
    page = (out / "essays" / "long" / "index.html").read_text()
    assert page.count("data-passage=") == 140 and "Sentence 419 is one more" in page


def test_broken_picks_file_warns_and_the_rest_builds(exhibit, tmp_path, capsys):
    (exhibit / "picks" / "alpha.toml").write_text('[[passage]]\nkey = "78b02651dc5a"\npicks = ["r34265cfd:0:0",\n')
    out = tmp_path / "site"
    assert run_cli("--content", str(exhibit), "--output", str(out)) == 0
    err = capsys.readouterr().err
    assert "alpha.toml: unreadable picks file" in err
    assert "Beta has one paragraph" in (out / "essays" / "beta" / "index.html").read_text()
    assert "Rovers drive slowly." in (out / "essays" / "alpha" / "index.html").read_text()
