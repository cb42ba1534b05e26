"""Publishing right: base URL and 404, the system-package installer, drafts and slugs, whole sentences, check."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from generator.content.layout import ContentLayout
from generator.errors import InputError
from generator.site.builder import Options, Paths, build
from tests.conftest import ROOT, run_cli

PROJECT_SITE = "https://someone.github.io/verbosified-space-rovers/"


def _urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src|srcset)="([^"]*)"', html)


# 1. base URL and 404.html


def test_base_url_puts_the_base_path_into_every_404_link(site_paths):
    build(site_paths, Options(base_url=PROJECT_SITE))
    page = (site_paths.output / "404.html").read_text()
    urls = [u for u in _urls(page) if not u.startswith(("data:", "#"))]
    assert urls and all(u.startswith("/verbosified-space-rovers/") or u.startswith(PROJECT_SITE) for u in urls), urls
    assert '<a href="/verbosified-space-rovers/">Return to the exhibit</a>' in page
    # every other page keeps relative URLs (the canonical and Open Graph URLs aside)
    index = (site_paths.output / "index.html").read_text()
    assert f'<link rel="canonical" href="{PROJECT_SITE}">' in index
    internal = [u for u in _urls(index) if not u.startswith(("http", "data:", "#"))]
    assert internal and not any(u.startswith("/") for u in internal), internal


def test_without_a_base_url_404_is_right_at_the_root_and_the_build_says_so(site_paths, caplog):
    toml = site_paths.content / "site.toml"
    toml.write_text(toml.read_text().replace('base_url = "https://example.org/vsr/"\n', ""))
    with caplog.at_level(logging.INFO):
        build(site_paths)
    assert sum("needs --base-url" in r.getMessage() for r in caplog.records) == 1
    page = (site_paths.output / "404.html").read_text()
    assert '<a href="/">Return to the exhibit</a>' in page and 'href="/method/"' in page


def test_cli_base_url_overrides_site_toml_and_is_checked(exhibit, tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli("--content", str(exhibit), "--output", str(out), "--base-url", PROJECT_SITE, "-q") == 0
    assert "https://example.org/vsr/" not in (out / "sitemap.xml").read_text()
    assert f"<loc>{PROJECT_SITE}essays/alpha/</loc>" in (out / "sitemap.xml").read_text()
    assert run_cli("--content", str(exhibit), "--output", str(out), "--base-url", "someone.github.io/x") == 1
    assert "--base-url" in capsys.readouterr().err


def test_pages_workflow_checks_then_builds_with_the_pages_base_url():
    flow = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    assert "id: pages" in flow and "uses: actions/configure-pages" in flow
    assert 'python build.py check' in flow
    assert 'python build.py --base-url "${{ steps.pages.outputs.base_url }}"' in flow
    assert flow.index("build.py check") < flow.index("build.py --base-url")


# 2. the system packages the tests need


def _shims(tmp_path: Path, present: list[str], uid: int, sudo: bool) -> tuple[dict, Path]:
    """A PATH of stand-in commands that log how they were called."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    log = tmp_path / "calls"
    for name in present + ["apt-get"] + (["sudo"] if sudo else []):
        body = f'echo "{name} $*" >> {log}\n' + ('exec "$@"\n' if name == "sudo" else "")
        (bin_ / name).write_text("#!/bin/sh\n" + body)
    (bin_ / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_ / "env").write_text('#!/bin/sh\nwhile [ "${1#*=}" != "$1" ]; do shift; done\nexec "$@"\n')
    for f in bin_.iterdir():
        f.chmod(0o755)
    return {"PATH": str(bin_), "HOME": str(tmp_path)}, log


@pytest.mark.parametrize(
    "present, uid, sudo, expected",
    [
        # NodeSource's Node.js brings npm: Debian's npm (which conflicts with it) is never asked for
        (["node", "npm", "zbarimg", "epubcheck", "pdftotext", "g++"], 0, False, ["apt-get update -qq", "apt-get install -y -qq chromium default-jre-headless"]),
        # root without sudo installed: apt-get directly
        ([], 0, False, ["apt-get update -qq", "apt-get install -y -qq chromium default-jre-headless nodejs npm zbar-tools epubcheck poppler-utils g++"]),
        # a user: through sudo
        (["chromium", "java", "zbarimg", "epubcheck", "pdftotext", "g++"], 1000, True, ["sudo apt-get update -qq", "apt-get update -qq", "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm", "apt-get install -y -qq nodejs npm"]),
        # everything there: nothing runs
        (["chromium", "java", "node", "npm", "zbarimg", "epubcheck", "pdftotext", "g++"], 1000, True, []),
    ],
)
def test_system_packages_installs_only_what_is_missing(tmp_path, present, uid, sudo, expected):
    env, log = _shims(tmp_path, present, uid, sudo)
    r = subprocess.run(["/bin/sh", str(ROOT / "tests" / "system-packages.sh")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    assert calls == expected


def test_system_packages_says_what_to_do_without_root_or_sudo(tmp_path):
    env, log = _shims(tmp_path, [], 1000, sudo=False)
    r = subprocess.run(["/bin/sh", str(ROOT / "tests" / "system-packages.sh")], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "as root, or install sudo" in r.stderr and not log.exists()


def test_readme_and_ci_call_the_installer():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pytest" in line and line.startswith("sh "))
    assert command.startswith("sh tests/system-packages.sh && ")
    assert command in (ROOT / ".ci" / "run").read_text()


# 3. drafts and slugs


def _draft(content: Path, name: str = "gamma.md", extra: str = "Status: draft\n") -> Path:
    path = content / "essays" / name
    path.write_text(f"Title: Gamma Draft\n{extra}\nGamma is being written. It is not ready. It will be soon.\n")
    return path


def test_a_draft_never_reaches_the_published_site(site_paths):
    _draft(site_paths.content)
    build(site_paths)
    out = site_paths.output
    assert not (out / "essays" / "gamma").exists()
    for page in ("index.html", "sitemap.xml", "method/index.html"):
        assert "gamma" not in (out / page).read_text().lower()
    # --drafts renders it, marked, and still keeps it out of the sitemap; a plain build then removes it again
    build(site_paths, Options(drafts=True))
    assert "Gamma is being written." in (out / "essays" / "gamma" / "index.html").read_text()
    assert 'Gamma Draft</a> <span class="draft-mark">draft</span>' in (out / "index.html").read_text()
    assert "gamma" not in (out / "sitemap.xml").read_text()
    build(site_paths)
    assert not (out / "essays" / "gamma").exists() and "Gamma" not in (out / "index.html").read_text()


def test_status_published_and_bad_status(site_paths):
    _draft(site_paths.content, extra="Status: published\n")
    build(site_paths)
    assert (site_paths.output / "essays" / "gamma" / "index.html").exists()
    _draft(site_paths.content, extra="Status: hidden\n")
    with pytest.raises(InputError, match=r"gamma\.md:2: Status must be one of published, draft"):
        build(site_paths)


def test_slug_overrides_the_file_name(site_paths):
    _draft(site_paths.content, "2026-11-gamma.md", extra="Slug: gamma-rays\n")
    build(site_paths)
    assert (site_paths.output / "essays" / "gamma-rays" / "index.html").exists()
    assert 'href="essays/gamma-rays/"' in (site_paths.output / "index.html").read_text()
    # the essay's samples and picks follow the slug
    layout = ContentLayout(site_paths.content)
    assert [h.slug for h in layout.essays()] == ["gamma-rays", "alpha", "beta"]
    assert layout.samples("gamma-rays").name == "gamma-rays.passages"


def test_two_essays_with_one_slug_name_both_files(site_paths):
    _draft(site_paths.content, "gamma.md", extra="Slug: beta\n")
    with pytest.raises(InputError) as err:
        build(site_paths)
    assert "beta.md" in str(err.value) and "gamma.md" in str(err.value)


@pytest.mark.parametrize("extra, message", [("Slug: Not A Slug\n", "gamma.md:2: Slug 'Not A Slug'"), ("Tags: x\n", "gamma.md:2: unknown meta-data key 'Tags'")])
def test_bad_slug_and_unknown_keys_are_errors(site_paths, extra, message):
    _draft(site_paths.content, extra=extra)
    with pytest.raises(InputError, match=re.escape(message)):
        build(site_paths)


def test_serve_and_the_curation_commands_see_drafts(exhibit, tmp_path, capsys):
    _draft(exhibit)
    assert run_cli("stats", "--content", str(exhibit), "--json") == 0
    assert '"slug": "gamma"' in capsys.readouterr().out
    import build as cli

    seen = []
    args = cli.parser().parse_args(["serve", "--content", str(exhibit), "--output", str(tmp_path / "o"), "-q"])
    original = cli.cmd_build
    try:
        cli.cmd_build = lambda a, drafts=None, artist=False: seen.append((drafts, artist)) or 0
        import generator.site.serve as serve

        real, serve.serve = serve.serve, lambda *a, **k: None
        try:
            cli.cmd_serve(args)
        finally:
            serve.serve = real
    finally:
        cli.cmd_build = original
    assert seen == [(True, True)]  # drafts, and the artist's own notes (never on a published build)


# 4. whole sentences only


@pytest.mark.parametrize(
    "text, whole",
    [
        ("The rover drove for more than 300 meters by hand.", True),
        ("It ke working for more than 300 meter by hand. about three Earth months.", False),
        ("about three Earth months.", False),
        ("The rover drove on and on", False),
        ("“Keep driving,” the team said.", True),
        ("2024 was the year the helicopter flew.", True),
        ("It drove. It stopped.", False),
    ],
)
def test_whole_sentence(text, whole):
    from generator.picks.candidates import whole_sentence

    assert whole_sentence(text) is whole


def test_every_insertion_in_the_exhibit_is_a_whole_sentence(tmp_path):
    from html import unescape

    from generator.picks.candidates import whole_sentence

    out = tmp_path / "site"
    build(Paths(ROOT / "content", out, ROOT / "site_templates", ROOT))
    seen = 0
    for page in sorted((out / "essays").glob("*/index.html")):
        passages = "".join(re.findall(r'<p class="passage-text">(.*?)</p>', page.read_text(), re.DOTALL))
        for ins in re.findall(r"<ins>(.*?)</ins>", passages, re.DOTALL):
            text = " ".join(unescape(re.sub(r"<[^>]+>", "", ins)).split())
            assert re.match(r"""^["'“‘]?[A-Z0-9]""", text) and re.search(r"""[.!?…]["'”’)\]]*$""", text), text
            assert whole_sentence(text), text
            seen += 1
    assert seen > 50


# 6. check


def test_check_passes_the_fixture_and_writes_nothing(exhibit, tmp_path, capsys):
    before = sorted(p for p in tmp_path.rglob("*"))
    assert run_cli("check", "--content", str(exhibit)) == 0
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert "0 error(s)" in capsys.readouterr().err


def test_check_lists_every_problem_with_file_and_line(exhibit, capsys):
    (exhibit / "essays" / "beta.md").write_text(
        "Title: Beta\nDate: someday\n\nBeta. It is short. It has three.\n"
    )
    alpha = exhibit / "essays" / "alpha.md"
    alpha.write_text(alpha.read_text() + "\nSee [the map](../nowhere/) and ![a photo](photo.png). [How](../../method/) is fine.\n")
    (exhibit / "samples" / "alpha.json").write_text('{"format": 1, "passages": {')
    assert run_cli("check", "--content", str(exhibit)) == 1
    err = capsys.readouterr().err
    n = len(alpha.read_text().splitlines())
    assert "beta.md:2: Date must be YYYY-MM-DD" in err
    assert f"alpha.md:{n}: link or image '../nowhere/' points at nothing" in err
    assert f"alpha.md:{n}: link or image 'photo.png' points at nothing" in err
    assert "'../../method/'" not in err
    assert "alpha.json: unreadable sample cache" in err


def test_check_warnings_only_exit_0(exhibit, capsys):
    picks = exhibit / "picks" / "alpha.toml"
    picks.write_text(picks.read_text().replace('key = "', 'key = "0', 1))
    essay = exhibit / "essays" / "alpha.md"
    essay.write_text(essay.read_text().replace("Rovers drive slowly.", "Rovers drive very slowly."))
    assert run_cli("check", "--content", str(exhibit)) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "0 error(s)" in err


def test_check_bad_site_toml(exhibit, capsys):
    (exhibit / "site.toml").write_text('title = "x"\nbase_url = "ftp://x"\n')
    assert run_cli("check", "--content", str(exhibit)) == 1
    assert "site.toml:2: base_url must be" in capsys.readouterr().err


# 7. one place knows the content folder


def test_no_stage_builds_content_paths_itself():
    """Only ContentLayout joins "samples", "picks", "essays" or "site.toml" onto the content folder."""
    offenders = []
    for path in [ROOT / "build.py", *(ROOT / "generator").rglob("*.py"), *(ROOT / "bench").glob("*.py")]:
        if path.name == "layout.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"""(?<!site )/ "(samples|picks|essays|site\.toml)"|glob\("\*\.md"\)""", line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert offenders == []


def test_site_build_imports_punkt_without_the_rest_of_nltk(exhibit, tmp_path):
    code = (
        "import sys, build\n"
        f"rc = build.main(['--content', {str(exhibit)!r}, '--output', {str(tmp_path / 'o')!r}, '-q'])\n"
        "from generator.content.sentences import _punkt\n"
        "print(rc, _punkt.cache_info().currsize, [m for m in sys.modules if m.split('.')[0] in ('nltk', 'scipy')])\n"
    )
    env = {k: v for k, v in os.environ.items()}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert r.stdout.strip() == "0 1 []", r.stderr


def test_real_nltk_still_imports_after_punkt():
    code = (
        "from generator.content.sentences import split_sentences\n"
        "split_sentences('One. Two.')\n"
        "import nltk, nltk.tokenize.punkt as p\n"
        "from nltk.tokenize import PunktTokenizer\n"
        "print(hasattr(nltk, 'word_tokenize'), p.PunktSentenceTokenizer is nltk.tokenize.punkt.PunktSentenceTokenizer)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.strip() == "True True", r.stderr


def test_punkt_unwrapped_splits_exactly_as_nltks_own():
    """The builtin splitter calls Punkt's fixed patterns without nltk.redos's timeout
    wrapper; on every essay and every sample of the exhibit it splits exactly as NLTK's
    own Punkt (wrapped, with the same parameters)."""
    from generator.content import sentences
    from generator.samples.store import load_cache

    layout = ContentLayout(ROOT / "content")
    loaded = [load_cache(layout.samples(h.slug), h.slug) for h in layout.essays(drafts=True)]
    loaded += [load_cache(p, p.stem) for p in layout.explore_files()]
    assert [warning for _, warning in loaded if warning] == []
    texts = [s for c, _ in loaded for e in c.passages.values() for r in e.runs for s in r.samples]
    texts += [p.read_text() for p in sorted((ROOT / "content" / "essays").glob("*.md"))]
    texts += ['Dr. Smith went home... He slept. "Why?" she asked. It cost $1.50 at 3 p.m. on Jan. 5. Then (he left.) Fine.']
    wrapped = sentences.punkt_module()  # a fresh private copy, its patterns as NLTK wraps them
    assert type(wrapped.PunktToken._RE_ELLIPSIS).__name__ == "TimedPattern"
    theirs = wrapped.PunktSentenceTokenizer(sentences._builtin_params())
    ours = sentences.get_splitter()
    assert type(sentences._punkt().PunktToken._RE_ELLIPSIS).__name__ != "TimedPattern"
    assert len(texts) > 700
    for text in texts:
        assert ours.split(text, merge=False) == (theirs.tokenize(" ".join(text.split())) if text.split() else [])
