"""End-to-end builds of the fixture exhibit."""

import hashlib
import re
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.site.builder import Paths, build
from tests.conftest import ROOT, run_cli


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fixture_build_renders_passages_insertions_and_samples(site_paths):
    report = build(site_paths)
    out = site_paths.output
    page = (out / "essays" / "alpha" / "index.html").read_text("utf-8")
    assert page.count("data-passage=") == 5
    assert 'data-passage="78b02651dc5a"' in page
    assert "<ins>The cameras see far.</ins>" in page
    assert page.count("<details") == 5
    assert "not yet verbosified" in page  # passages without samples say so
    assert "unusable: empty" in page
    assert 'id="reading-original"' in page and 'id="reading-verbosified"' in page
    # the essay's own Markdown is HTML, other blocks render as they are
    assert "<em>five</em>" in page and "<blockquote>" in page and "<li>" in page
    # stale pick reported, build still fine
    assert any("000000000000" in w for w in report.warnings)
    for name in ("index.html", "method/index.html", "404.html", ".nojekyll", "sitemap.xml", "robots.txt", "CNAME", "static/style.css"):
        assert (out / name).is_file(), name
    assert (out / "CNAME").read_text() == "vsr.example.org\n"
    sitemap = (out / "sitemap.xml").read_text()
    assert "<loc>https://example.org/vsr/essays/alpha/</loc>" in sitemap
    assert 'property="og:url" content="https://example.org/vsr/essays/alpha/"' in page


def test_generated_text_is_escaped(site_paths):
    build(site_paths)
    page = (site_paths.output / "essays" / "alpha" / "index.html").read_text("utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page and "49" not in page.split("Markup")[1][:20]


def test_all_internal_urls_are_relative(site_paths):
    build(site_paths)
    for page in site_paths.output.rglob("*.html"):
        if page.name == "404.html":
            continue
        for url in re.findall(r'(?:href|src)="([^"]+)"', page.read_text("utf-8")):
            assert not url.startswith("/"), f"{page}: {url}"


def test_landing_page_counts(site_paths):
    build(site_paths)
    index = (site_paths.output / "index.html").read_text("utf-8")
    assert "Alpha Essay" in index and "Beta Essay" in index
    assert index.index("Alpha Essay") < index.index("Beta Essay")  # Order: 1 before 2
    assert re.search(r"\d+ → \d+ words", index)
    assert "<em>fixture</em>" in index  # statement Markdown


def test_two_builds_are_byte_identical(exhibit, tmp_path):
    a = Paths(exhibit, tmp_path / "a", ROOT / "site_templates", ROOT)
    b = Paths(exhibit, tmp_path / "b", ROOT / "site_templates", ROOT)
    build(a)
    build(b)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_incremental_rebuild(site_paths):
    first = build(site_paths)
    assert first.essays_rendered == 2
    again = build(site_paths)
    assert (again.essays_rendered, again.written, again.site_pages_rendered) == (0, 0, False)
    assert again.warnings == first.warnings  # warnings are repeated, not forgotten
    essay = site_paths.content / "essays" / "beta.md"
    essay.write_text(essay.read_text().replace("It is short.", "It is rather short."))
    third = build(site_paths)
    assert third.essays_rendered == 1 and third.essays_reused == 1
    assert "It is rather short." in (site_paths.output / "essays" / "beta" / "index.html").read_text()


def test_stale_files_are_removed(site_paths):
    build(site_paths)
    (site_paths.output / "leftover.html").write_text("old")
    (site_paths.content / "essays" / "beta.md").unlink()
    build(site_paths)
    assert not (site_paths.output / "leftover.html").exists()
    assert not (site_paths.output / "essays" / "beta").exists()


def test_bad_input_leaves_output_intact(site_paths):
    build(site_paths)
    before = tree(site_paths.output)
    (site_paths.content / "essays" / "beta.md").write_bytes(b"Title: B\nWhat: x\n\nBody.\n")
    with pytest.raises(InputError) as err:
        build(site_paths)
    assert "beta.md:2" in str(err.value)
    assert tree(site_paths.output) == before


def test_corrupt_cache_warns_and_build_succeeds(site_paths):
    (site_paths.content / "samples" / "alpha.json").write_text('{"format": 1, "passages": {')
    report = build(site_paths)
    assert any("alpha.json" in w and "unreadable" in w for w in report.warnings)
    page = (site_paths.output / "essays" / "alpha" / "index.html").read_text()
    assert "<ins>" not in page.split("class=\"paragraph\"", 1)[1]


def test_cli_exit_codes(exhibit, tmp_path, capsys):
    out = tmp_path / "site"
    assert run_cli("--content", str(exhibit), "--output", str(out), "-q") == 0
    assert (out / "index.html").exists()
    (exhibit / "site.toml").write_text('title = "x"\nwrong = 1\n')
    assert run_cli("build", "--content", str(exhibit), "--output", str(out)) == 1
    err = capsys.readouterr().err
    assert "site.toml:2" in err and "unknown key 'wrong'" in err
    with pytest.raises(SystemExit) as usage:
        run_cli("build", "--no-such-option")
    assert usage.value.code == 2
    assert run_cli("clean", "--content", str(exhibit), "--output", str(out)) == 0
    assert not out.exists()
