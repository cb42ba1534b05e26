"""Tests that can fail and tests that cannot harm: dangerous output folders, clean, the build's
fingerprint of the samples, escaping on every page, picks that move, caches of the wrong shape,
pick's --ratio and --force, and --help everywhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.content.layout import ContentLayout
from generator.errors import InputError
from generator.samples import store
from generator.site import writer
from generator.site.builder import Paths, build
from tests.conftest import ROOT, run_cli

DANGEROUS = {
    "root": lambda c: Path("/"),
    "home": lambda c: Path.home(),
    "home-tilde": lambda c: Path("~"),
    "tmp": lambda c: Path("/tmp"),
    "usr": lambda c: Path("/usr"),
    "project": lambda c: ROOT,
    "parent-of-project": lambda c: ROOT.parent,
    "content": lambda c: c,
    "inside-content": lambda c: c / "essays",
    "templates": lambda c: ROOT / "site_templates",
    "package": lambda c: ROOT / "generator",
}


@pytest.fixture
def no_destruction(monkeypatch):
    """Every destructive step raises instead of deleting: a regression fails loudly and harms nothing."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a destructive step ran: {args!r}")

    monkeypatch.setattr(writer, "apply", refuse)
    monkeypatch.setattr(writer, "clean", refuse)
    monkeypatch.setattr(writer.shutil, "rmtree", refuse)
    monkeypatch.setattr(writer.Path, "unlink", refuse)
    monkeypatch.setattr(writer.Path, "rmdir", refuse)


@pytest.mark.parametrize("name", sorted(DANGEROUS))
def test_check_output_dir_refuses_dangerous_folders(exhibit, name):
    target = DANGEROUS[name](exhibit)
    with pytest.raises(InputError, match="refusing"):
        writer.check_output_dir(target, project=ROOT, protected=[exhibit, ROOT / "site_templates", ROOT / "generator"])


def test_check_output_dir_accepts_an_ordinary_folder(tmp_path):
    assert writer.check_output_dir(tmp_path / "site", project=ROOT, protected=[]) == (tmp_path / "site").resolve()


@pytest.mark.parametrize("name", ["root", "home", "project", "content", "parent-of-project"])
def test_build_toward_a_dangerous_folder_stops_before_any_write(exhibit, name, no_destruction):
    paths = Paths(exhibit, DANGEROUS[name](exhibit), ROOT / "site_templates", ROOT)
    with pytest.raises(InputError, match="refusing"):
        build(paths)


@pytest.mark.parametrize("name", ["root", "home", "home-tilde", "project", "content", "parent-of-project"])
def test_clean_toward_a_dangerous_folder_is_refused(exhibit, name, no_destruction, capsys):
    assert run_cli("clean", "--content", str(exhibit), "--output", str(DANGEROUS[name](exhibit))) == 1
    assert "refusing" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["root", "home", "project", "content", "parent-of-project"])
def test_the_studio_refuses_a_dangerous_preview_folder_before_building(exhibit, tmp_path, name, no_destruction, monkeypatch):
    """The studio's preview is a build folder too: its own guard stops it before the first build."""
    from generator.studio import preview
    from generator.studio.serve import StudioOptions, open_studio

    def no_build(*args, **kwargs):
        raise AssertionError("the preview was built")

    monkeypatch.setattr(preview, "build", no_build)
    options = StudioOptions(content=exhibit, models_dir=tmp_path, model=None, ratio=2.0, preview=DANGEROUS[name](exhibit),
                            templates=ROOT / "site_templates", project=ROOT, port=0)
    with pytest.raises(InputError, match="refusing"):
        open_studio(options)


def test_clean_removes_an_ordinary_output(exhibit, tmp_path):
    out = tmp_path / "site"
    assert run_cli("--content", str(exhibit), "--output", str(out), "-q") == 0
    assert run_cli("clean", "--content", str(exhibit), "--output", str(out), "-q") == 0
    assert not out.exists() and not (tmp_path / ".vsr-cache").exists()


def test_changed_samples_rebuild_the_page(site_paths):
    build(site_paths)
    page = site_paths.output / "essays" / "alpha" / "index.html"
    before = page.read_text()
    folder = ContentLayout(site_paths.content).samples("alpha")
    assert store.convert(folder, "alpha")  # the fixture's one file, a file a passage now, as the first write leaves it
    build(site_paths)
    cache = sorted(folder.glob("*.json"))[0]
    data = json.loads(cache.read_text())
    data["runs"][0]["samples"][0] = data["runs"][0]["samples"][0] + " A freshly cached ending."
    cache.write_text(json.dumps(data))
    report = build(site_paths)
    assert report.essays_rendered == 1
    assert page.read_text() != before and "A freshly cached ending." in page.read_text()


def test_exploration_and_alternatives_escape_generated_text(site_paths):
    build(site_paths)
    for name in ("explore/index.html", "alternatives/index.html"):
        page = (site_paths.output / name).read_text("utf-8")
        assert "<script>alert" not in page and "<img src=x" not in page, name
        assert "&lt;script&gt;alert(&#39;explore&#39;)&lt;/script&gt;" in page or "&lt;img src=x" in page, name
        assert "\x05" not in page


def test_alternatives_page_lists_the_fixtures_unconstrained_samples(site_paths):
    build(site_paths)
    page = (site_paths.output / "alternatives" / "index.html").read_text("utf-8")
    assert "No unconstrained samples" not in page
    assert "Bananas and violins and medieval castles" in page and "divergence" in page


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"format": 1, "passages": []}', "'passages' is not an object"),
        ('{"format": 1, "passages": {"k": "a string"}}', "passage k: the entry is not an object"),
        ('{"format": 1, "passages": {"k": {"text": "t", "runs": [], "position": "x"}}}', "passage k: 'position' must be a whole number"),
        ('{"format": 1, "passages": {"k": {"text": "t", "runs": [{"model": "m"}]}}}', "passage k: a run's 'model_fingerprint' is missing"),
        ('{"format": 1, "passages": {"k": {"text": "t", "runs": [{"model": "m", "model_fingerprint": "f", "recipe": "fast", "samples": ["a"], "params": {"temperature": 1.0, "top_k": "30", "length": 5, "seed": 1, "finetune_steps": 0, "learning_rate": 0.001}}]}}}', "parameter 'top_k' has the wrong type"),
        ('[1, 2]', "not a format-1 sample cache"),
    ],
)
def test_a_cache_of_the_wrong_shape_warns_and_the_build_goes_on(site_paths, text, problem):
    (site_paths.content / "samples" / "alpha.json").write_text(text)
    report = build(site_paths)
    assert any("alpha.json" in w and problem in w for w in report.warnings), report.warnings
    page = (site_paths.output / "essays" / "alpha" / "index.html").read_text()
    assert "not yet verbosified" in page


def test_a_malformed_passage_leaves_the_others_in_place(tmp_path):
    from generator.samples.store import load_cache

    good = {"text": "t", "runs": [{"model": "m", "model_fingerprint": "f", "recipe": "fast", "samples": ["a"], "flags": [""],
                                    "params": {"temperature": 1, "top_k": 0, "length": 5, "seed": 1, "finetune_steps": 0, "learning_rate": 0.001}}]}
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": 1, "passages": {"good": good, "bad": {"text": 3}}}))
    cache, warning = load_cache(path, "x")
    assert set(cache.passages) == {"good"} and "passage bad" in warning
    assert cache.passages["good"].runs[0].params.temperature == 1.0


def test_a_pick_whose_sentence_moved_is_stale_not_swapped(exhibit):
    from generator.content.essays import parse_essay
    from generator.picks.resolve import verbosify
    from generator.picks.store import load_picks
    from generator.samples.store import load_cache

    picks_file = exhibit / "picks" / "alpha.toml"
    essay = parse_essay(exhibit / "essays" / "alpha.md")
    cache, _ = load_cache(ContentLayout(exhibit).samples("alpha"), "alpha")
    picks, _ = load_picks(picks_file, "alpha")
    before = verbosify(essay, cache, picks)
    inserted = [i for vp in before.passages.values() for i in vp.insertions]
    assert inserted
    # the picks file names each pick with a check of its sentence; point one check elsewhere
    text = picks_file.read_text()
    ref = str(inserted[0].candidate.ref)
    from generator.picks.candidates import sentence_check

    text = text.replace(f'"{ref}"', f'"{ref}@{sentence_check("some other sentence")}"', 1)
    picks_file.write_text(text)
    picks, warnings = load_picks(picks_file, "alpha")
    after = verbosify(essay, cache, picks)
    assert not warnings
    assert any(s.pick == ref and "not the one picked" in s.reason for s in after.stale)
    assert inserted[0].text not in [i.text for vp in after.passages.values() for i in vp.insertions]


def test_written_picks_carry_the_check_and_read_back(exhibit):
    from generator.picks.candidates import PickRef, sentence_check

    (exhibit / "picks" / "alpha.toml").unlink()
    assert run_cli("pick", "--content", str(exhibit), "--essay", "alpha", "-q") == 0
    text = (exhibit / "picks" / "alpha.toml").read_text()
    import re

    refs = re.findall(r'"(r[0-9a-f]+:\d+:\d+@[0-9a-f]{6})"', text)
    assert refs
    assert PickRef.parse(refs[0]).check == refs[0].split("@")[1]
    assert len(sentence_check("x")) == 6


def _ratio(capsys, exhibit, *args) -> float:
    assert run_cli("pick", "--content", str(exhibit), "--essay", "alpha", *args) == 0
    assert run_cli("stats", "--content", str(exhibit), "--essay", "alpha", "--json") == 0
    return json.loads(capsys.readouterr().out)[0]["ratio"]


def test_pick_ratio_and_force(exhibit, capsys):
    picks = exhibit / "picks" / "alpha.toml"
    manual = picks.read_text()
    assert "auto = true" not in manual  # the fixture's picks are the artist's own
    low = _ratio(capsys, exhibit, "--ratio", "1.0", "-q")
    assert picks.read_text().count("[[passage]]") >= manual.count("[[passage]]")
    import re

    refs = lambda text: set(re.findall(r'"(r[0-9a-f]+:\d+:\d+)', text))  # noqa: E731
    assert refs(manual) <= refs(picks.read_text())  # the artist's own picks are kept
    forced = _ratio(capsys, exhibit, "--ratio", "1.0", "--force", "-q")
    assert forced == pytest.approx(1.0, abs=0.05) and forced <= low
    assert not refs(manual) & refs(picks.read_text())  # --force replaced the artist's picks
    more = _ratio(capsys, exhibit, "--ratio", "1.6", "--force", "-q")
    assert more > forced and "\nauto = true\n" in picks.read_text()


COMMANDS = ["build", "serve", "clean", "check", "generate", "explore", "download-model", "import-model", "train-demo-model", "pick", "stats", "studio", "kiosk", "station", "book"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command):
    r = subprocess.run([sys.executable, "build.py", command, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and f"usage: build.py {command}" in r.stdout


def test_every_command_is_listed_and_tested():
    import build

    listed = set(build.parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert listed == set(COMMANDS)


def test_missing_splitter_parameters_are_an_error(monkeypatch, tmp_path):
    from generator.content import sentences

    monkeypatch.setattr(sentences, "PARAMS_FILE", tmp_path / "gone.json")
    sentences.get_splitter.cache_clear()
    try:
        with pytest.raises(InputError, match="parameters are missing"):
            sentences.split_sentences("One. Two.")
    finally:
        monkeypatch.undo()
        sentences.get_splitter.cache_clear()
    assert sentences.split_sentences("One. Two.") == ["One.", "Two."]


def test_essays_and_sentences_do_not_import_each_other():
    import ast

    tree = ast.parse((ROOT / "generator" / "content" / "sentences.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "essays" not in imported and ".essays" not in imported
    shutil.which("true")  # keep shutil used
