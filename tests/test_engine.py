"""The verbosify engine on tiny checkpoints built here (TensorFlow, gpt-2-simple)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.content.essays import parse_essay
from generator.content.layout import ContentLayout
from generator.samples.cache import Params
from generator.samples.store import load_cache
from tests.conftest import ROOT, run_cli
from tests.engine_models import train_tiny
from tests.stores import store_of

PARAMS = Params(temperature=0.8, top_k=30, length=16, seed=7, finetune_steps=1, learning_rate=1e-4)


@pytest.fixture(scope="module")
def fast(models):
    from generator.samples.engine.fast import FastEngine

    engine = FastEngine(models / "tiny")
    yield engine
    engine.close()


def loss(engine, prompt: str) -> float:
    """The fine-tune's loss on ``prompt`` with the engine's weights as they are."""
    return float(engine.sess.run(engine.loss, {engine.tokens: [engine.encode(prompt)]}))


def generate(content: Path, models: Path, *extra: str) -> int:
    return run_cli("generate", "--content", str(content), "--models-dir", str(models), "--model", "tiny", "--samples", "3", "--length", "16", "-q", *extra)


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("recipe", ["fast", "seed"])
def test_recipes_fill_the_cache_and_leave_nothing_behind(exhibit, models, recipe, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # gpt-2-simple writes relative to the working directory if anything
    before_models, before_cwd = files_under(models), files_under(tmp_path)
    assert generate(exhibit, models, "--recipe", recipe, "--essay", "beta", "--seed", "3") == 0
    cache, warning = load_cache(store_of(exhibit, "beta"), "beta")
    assert warning is None
    essay = parse_essay(exhibit / "essays" / "beta.md")
    (passage,) = essay.passages
    entry = cache.passages[passage.key]
    assert entry.text == passage.text
    run = entry.runs[0]
    assert run.recipe == recipe and run.model == "tiny" and run.model_fingerprint.startswith("sha256:")
    assert run.params == dataclasses.replace(PARAMS, seed=3, top_k=30, temperature=0.8, train_on="window" if recipe == "seed" else "passage")
    assert len(run.samples) == 3 and len(run.flags) == 3
    assert all(not s.startswith(passage.text) for s in run.samples)  # stored: the text after the prompt
    assert files_under(models) - before_models <= {"tiny/.fingerprint.json"}
    assert files_under(tmp_path) - before_cwd <= {p for p in files_under(tmp_path) if p.startswith("content")}


def test_fast_samples_are_continuations_of_the_prompt(fast):
    prompt = "Rovers drive slowly. They carry cameras. They stop often."
    tokens = fast.encode(prompt)
    samples = fast.sample(prompt, PARAMS, 2)
    # decoding the prompt's tokens followed by a continuation's gives prompt + continuation
    assert fast.encoder.decode(tokens) == prompt and len(samples) == 2
    assert all(fast.encode(prompt + s)[: len(tokens)] == tokens or s == "" for s in samples)


def test_same_seed_same_samples(fast):
    prompt = "Rovers drive slowly. They carry cameras. They stop often."
    a = fast.generate(prompt, PARAMS, 4).continuations
    fast.generate("Something else entirely to move the weights.", PARAMS, 2)
    b = fast.generate(prompt, PARAMS, 4).continuations
    c = fast.generate(prompt, dataclasses.replace(PARAMS, seed=8), 4).continuations
    assert a == b and a != c


def test_greedy_fast_equals_gpt2_simple_generate(models, fast):
    """With fine-tuning off and top_k=1, our sampler and the library's agree token for token."""
    from generator.samples.engine.tf import load

    tf, gpt2 = load()
    prompt = "Rovers drive slowly. They carry cameras."
    params = dataclasses.replace(PARAMS, top_k=1, temperature=1.0, finetune_steps=0, length=24)
    fast.reset()
    ours = fast.sample_tokens(prompt, params, 1)[0]
    graph = tf.Graph()
    with graph.as_default():
        sess = tf.compat.v1.Session(graph=graph)
        gpt2.load_gpt2(sess, model_name="tiny", model_dir=str(models))
        theirs = gpt2.generate(sess, model_name="tiny", model_dir=str(models), prefix=prompt, length=24, top_k=1, temperature=1.0, return_as_list=True)[0]
        sess.close()
    assert theirs.startswith(prompt)
    assert fast.encoder.decode(list(ours)) == theirs[len(prompt) :]
    assert len(set(ours.tolist())) > 3  # a real continuation, not one token repeated


def test_one_finetune_step_lowers_the_loss_on_the_passage(fast):
    prompt = "Dr. Smith built the arm. It has five joints. The arm moves at 1.2 m/s."
    fast.reset()
    before = loss(fast, prompt)
    fast.finetune(prompt, dataclasses.replace(PARAMS, learning_rate=1e-3))
    after = loss(fast, prompt)
    fast.reset()
    assert after < before
    assert loss(fast, prompt) == pytest.approx(before, abs=1e-6)  # base weights restored exactly


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_and_graph_stay_flat_over_20_passages(fast):
    ops = len(fast.graph.get_operations())
    prompts = [f"Passage number {i} is about rovers. It has wheels. It drives on." for i in range(25)]
    for p in prompts[:5]:
        fast.generate(p, PARAMS, 4)
    warm = rss_mb()
    for p in prompts[5:]:
        fast.generate(p, PARAMS, 4)
    assert len(fast.graph.get_operations()) == ops
    assert rss_mb() - warm < 40


def test_killed_run_resumes_without_corruption_or_duplicates(exhibit, models, tmp_path):
    essay = exhibit / "essays" / "long.md"
    essay.write_text("Title: Long\n\n" + "\n\n".join(f"Paragraph {i} talks about rovers. It is short. It ends." for i in range(60)) + "\n")
    cache_file = store_of(exhibit, "long")
    cmd = [sys.executable, "build.py", "generate", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "long", "--samples", "2", "--length", "16", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    deadline = time.time() + 120
    while not any(cache_file.glob("*.json")) and time.time() < deadline and proc.poll() is None:  # a passage recorded
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache, warning = load_cache(cache_file, "long")
    assert warning is None and 0 < len(cache.passages) < 60
    assert subprocess.run(cmd, cwd=ROOT).returncode == 0
    assert not [p for p in [*cache_file.parent.iterdir(), *cache_file.iterdir()] if p.name.endswith(".tmp")]  # the next writer cleared any
    cache, warning = load_cache(cache_file, "long")
    assert warning is None and len(cache.passages) == 60
    for entry in cache.passages.values():
        base_runs = [r for r in entry.runs if r.params.top_k == 30]
        assert len(base_runs) == 1


def test_escalation_on_a_model_that_echoes(exhibit, tmp_path):
    """A checkpoint that has learnt one passage by heart copies the prompt; the
    engine escalates top_k 30 -> 40 -> 80 (temperature 0.8 -> 0.9) and records every run."""
    essay = parse_essay(exhibit / "essays" / "beta.md")
    text = essay.passages[0].text
    models = tmp_path / "models"
    train_tiny(models / "tiny", [text] * 40, steps=120, learning_rate=2e-2)
    assert generate(exhibit, models, "--essay", "beta", "--temperature", "0.8") == 0
    cache, _ = load_cache(store_of(exhibit, "beta"), "beta")
    runs = cache.passages[essay.passages[0].key].runs
    assert "copy" in runs[0].flags or "loop" in runs[0].flags
    assert [(r.params.top_k, r.params.temperature) for r in runs] == [(30, 0.8), (40, 0.8), (80, 0.9)]


def test_missing_model_is_a_clear_error(exhibit, tmp_path, capsys):
    before = (exhibit / "samples" / "alpha.json").read_bytes()
    assert run_cli("generate", "--content", str(exhibit), "--models-dir", str(tmp_path), "--model", "124M") == 1
    err = capsys.readouterr().err
    assert "model '124M' is not there" in err and "download-model 124M" in err
    assert (exhibit / "samples" / "alpha.json").read_bytes() == before


def test_overlong_passage_names_essay_and_passage(exhibit, models, capsys):
    (exhibit / "essays" / "huge.md").write_text("Title: Huge\n\nShort first. " + " ".join(["word"] * 1100) + " end.\n")
    before = (exhibit / "samples" / "alpha.json").read_bytes()
    assert generate(exhibit, models) == 1
    err = capsys.readouterr().err
    assert "huge" in err and "passage 1" in err and "more than the model's context of 1024" in err
    assert (exhibit / "samples" / "alpha.json").read_bytes() == before
    assert not store_of(exhibit, "huge").exists() and not (exhibit / "samples" / "huge.json").exists()


def test_verify_catches_a_truncated_checkpoint(models, tmp_path):
    from generator.errors import InputError
    from generator.samples.engine.download import verify

    copy = tmp_path / "m" / "tiny"
    shutil.copytree(models / "tiny", copy)
    assert verify(copy) > 0
    data = copy / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:-100])
    with pytest.raises(InputError, match="truncated"):
        verify(copy)


def test_explore_fills_the_grid_and_resumes(exhibit, models, tmp_path, capsys):
    from generator.samples.explore import COMPARE_SAMPLES, FINETUNE_STEPS, TEMPERATURES, TOP_KS

    args = ("explore", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "beta", "--passage", "1", "-q")
    assert run_cli(*args) == 0
    cache, warning = load_cache(ContentLayout(exhibit).explore("beta"), "beta")
    (entry,) = cache.passages.values()
    grid = [r for r in entry.runs if len(r.samples) == 2]
    cells = {(r.params.finetune_steps, r.params.temperature, r.params.top_k) for r in grid}
    assert cells == {(s, t, k) for s in FINETUNE_STEPS for t in TEMPERATURES for k in TOP_KS} and len(grid) == 48
    assert entry.position == 1 and all(r.params.train_on == "passage" for r in grid)
    # the window-against-passage comparison: same seed (not the grid's), one step, both training sets
    compared = [r for r in entry.runs if r not in grid]
    assert sorted(r.params.train_on for r in compared) == ["passage", "window"]
    assert all(len(r.samples) == COMPARE_SAMPLES and r.params.finetune_steps == 1 for r in compared)
    assert len({r.params.seed for r in compared}) == 1 and compared[0].params.seed != grid[0].params.seed
    assert compared[0].samples != compared[1].samples
    before = ContentLayout(exhibit).explore("beta").read_bytes()
    assert run_cli(*args[:-1]) == 0
    assert "0 cell(s) sampled, 50 already there" in capsys.readouterr().err
    assert ContentLayout(exhibit).explore("beta").read_bytes() == before
    # the pages show it
    out = tmp_path / "site"
    assert run_cli("build", "--content", str(exhibit), "--output", str(out), "-q") == 0
    page = (out / "explore" / "index.html").read_text()
    beta = page.split("beta, passage 1", 1)[1]  # after the fixture's own alpha exploration
    assert beta.count('<div class="cell') == 48 and "temperature 0.2 · top_k 0" in beta and "distinct " in beta
    assert "The pasted window against the passage alone" in beta and "copy rate" in beta and "loop rate" in beta
    assert beta.count("<li") >= 2 * COMPARE_SAMPLES
    alternatives = (out / "alternatives" / "index.html").read_text()
    assert "<figcaption>beta, passage 1 · divergence" in alternatives and "tiny" in alternatives  # the new exploration's own


def test_seed_recipe_same_seed_same_samples_and_nothing_left(models):
    import tempfile

    from generator.samples.engine.seed import SeedEngine

    engine = SeedEngine(models / "tiny")
    leftovers_before = set(Path(tempfile.gettempdir()).glob("vsr-seed-*"))
    prompt = "Rovers drive slowly. They carry cameras. They stop often."
    a = engine.generate(prompt, PARAMS, 2).continuations
    b = engine.generate(prompt, PARAMS, 2).continuations
    engine.close()
    assert a == b and len(a) == 2
    assert set(Path(tempfile.gettempdir()).glob("vsr-seed-*")) == leftovers_before
    assert engine.bytes_written > 0  # it did write (and delete) a checkpoint per passage
