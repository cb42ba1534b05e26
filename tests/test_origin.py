"""What the public reads about the medium comes from records of where each model's weights came
from, never from a folder's name (issue 27): written by the commands that make a model, carried
into the sample caches by generate, and read by every page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from generator.samples import origin as origins
from generator.samples.cache import Params, PassageSamples, Run, SampleCache, dump_cache
from generator.samples.store import load_cache
from generator.samples.engine.checkpoint import fingerprint
from generator.samples.origin import Origin, model_label
from tests.conftest import run_cli
from tests.stores import store_of
from tests.test_import import CFG, gpt2_tensors, hf_folder


def _hub_tensors(n_vocab: int) -> dict:
    """The import tests' weights with a 1024-position embedding, so the essays' passages fit."""
    t = gpt2_tensors(n_vocab)
    t["wpe.weight"] = (np.random.default_rng(1).standard_normal((1024, CFG["n_embd"])) * 0.1).astype(np.float32)
    return t


def _page(out: Path, path: str) -> str:
    return (out / path).read_text("utf-8")


def test_a_model_imported_under_the_name_gpt2_is_named_from_its_record_on_every_page(exhibit, tmp_path, site_paths):
    from generator.samples.engine.checkpoint import write_vocabulary

    n_vocab = write_vocabulary(tmp_path / "v", merges=300)
    source, _ = hf_folder(tmp_path, prefix=False, tensors=_hub_tensors(n_vocab), config={"n_positions": 1024, "n_ctx": 1024})
    models = tmp_path / "models"
    assert run_cli("import-model", str(source), "--name", "gpt2", "--models-dir", str(models), "-q") == 0
    record = origins.of_folder(models / "gpt2")
    assert record == Origin("folder", fingerprint(models / "gpt2"), folder=source.name)
    assert str(tmp_path) not in (models / "gpt2" / origins.RECORD).read_text()  # a name, never a path

    common = ["--content", str(exhibit), "--models-dir", str(models), "--model", "gpt2", "-q"]
    assert run_cli("generate", *common, "--essay", "beta", "--samples", "2", "--length", "8") == 0
    assert run_cli("pick", "--content", str(exhibit), "--essay", "beta", "-q") == 0
    kept = json.loads((store_of(exhibit, "beta") / "models.json").read_text())
    assert kept["models"] == {record.fingerprint: record.as_dict()}  # the record travels with the samples, for Pages

    shutil.rmtree(models)  # a site is built where no model is: the record in the cache is all it has
    assert run_cli("--content", str(exhibit), "--output", str(site_paths.output), "-q") == 0
    name = "“gpt2”, a GPT-2 imported from a folder that did not say where it came from"
    for page in ("essays/beta/index.html", "exhibition/index.html", "label/index.html", "method/index.html"):
        html = _page(site_paths.output, page)
        assert name in html, page
        assert "demo model “gpt2”" not in html and "OpenAI’s GPT-2 124M" not in html, page
    # the fixture's hand-written runs record no origin: named by their folder, and nothing more claimed
    card = _page(site_paths.output, "exhibition/index.html")
    assert "model “fixture” (origin not recorded)" in card and "demo model" not in card


def test_each_way_a_model_arrives_records_where_it_came_from(models, tmp_path, monkeypatch):
    from generator.samples.engine import download
    from tests.test_download import Bucket

    monkeypatch.setitem(download.SIZES, "124M", {})  # the tiny model's files stand in for 124M's (their sizes differ)
    # OpenAI's GPT-2 only from OpenAI's own bucket, under one of its names; a name alone says nothing
    assert download.origin_of_download("774M", download.OPENAI_BASE) == {"source": "openai", "size": "774M", "url": f"{download.OPENAI_BASE}/models/774M/"}
    assert download.origin_of_download("774M", "https://mirror.example/gpt-2")["source"] == "download"
    assert download.origin_of_download("mine", download.OPENAI_BASE)["source"] == "download"

    # trained here (the session's tiny model is trained by train-demo-model's code)
    assert origins.of_folder(models / "tiny").source == "trained-here"
    # a snapshot in Hugging Face's cache, as --from-hub fetches it: the repository and the commit
    from generator.samples.engine.checkpoint import write_vocabulary

    n_vocab = write_vocabulary(tmp_path / "v", merges=300)
    built, _ = hf_folder(tmp_path, prefix=True, tensors=gpt2_tensors(n_vocab))
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "hub" / "models--openai-community--gpt2" / "snapshots" / commit
    shutil.copytree(built, snapshot)
    dest = tmp_path / "models"
    assert run_cli("import-model", str(snapshot), "--name", "small", "--models-dir", str(dest), "-q") == 0
    hub = origins.of_folder(dest / "small")
    assert (hub.source, hub.repository, hub.commit) == ("huggingface", "openai-community/gpt2", commit)
    assert model_label("small", hub) == "OpenAI’s GPT-2 124M (from Hugging Face, openai-community/gpt2)"
    # downloaded: one of OpenAI's sizes, and any other model a server holds
    import http.server
    import threading

    root = tmp_path / "bucket"
    for name in ("124M", "other"):
        shutil.copytree(models / "tiny", root / name, ignore=shutil.ignore_patterns(".*", origins.RECORD, "made-on.json"))
    handler = type("Handler", (Bucket,), {"root": root, "faults": {}, "log": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        for name in ("124M", "other"):
            assert run_cli("download-model", name, "--base-url", url, "--models-dir", str(dest), "-q") == 0
    finally:
        server.shutdown()
    named, other = origins.of_folder(dest / "124M"), origins.of_folder(dest / "other")
    assert (named.source, named.url) == ("download", f"{url}/models/124M/")  # 124M's name, from a server that is not OpenAI's
    assert model_label("124M", named) == "“124M”, a GPT-2 downloaded from 127.0.0.1"
    assert (other.source, model_label("other", other)) == ("download", "“other”, a GPT-2 downloaded from 127.0.0.1")
    assert model_label("124M", Origin("openai", named.fingerprint, size="124M")) == "OpenAI’s GPT-2 124M"
    with pytest.raises(origins.OriginError, match="size must be one of"):
        Origin("openai", named.fingerprint, size="")


def _hand_made(folder: Path) -> Path:
    """A model folder's files, made by hand (fingerprinting reads them; nothing loads them)."""
    folder.mkdir(parents=True)
    for name, text in (("checkpoint", 'model_checkpoint_path: "model.ckpt"\n'), ("encoder.json", "{}"), ("hparams.json", "{}"),
                       ("vocab.bpe", "#\n"), ("model.ckpt.data-00000-of-00001", "weights"), ("model.ckpt.index", "index")):
        (folder / name).write_text(text)
    return folder


def test_a_folder_made_by_hand_or_whose_weights_changed_has_no_origin(tmp_path):
    folder = _hand_made(tmp_path / "gpt2")
    assert origins.of_folder(folder) is None
    assert model_label("gpt2", None) == "model “gpt2” (origin not recorded)"
    origins.record(folder, "trained-here", trained_on="letters")
    assert origins.of_folder(folder).trained_on == "letters"
    (folder / "model.ckpt.data-00000-of-00001").write_text("other weights")  # the files replaced under the record
    assert origins.of_folder(folder) is None


def _run(fp: str, seed: int, origin: Origin | None = None) -> Run:
    return Run("gpt2", fp, "fast", Params(0.8, 30, 8, seed, 1, 1e-4), ("a", "b"), origin=origin)


def test_the_cache_keeps_the_first_record_of_a_model_and_refuses_a_malformed_one(tmp_path):
    from generator.content.essays import Passage
    from generator.samples.record import record, record_origin

    fp = "sha256:00000000000000aa"
    path = tmp_path / "essay.json"
    cache = SampleCache("essay", {"k1": PassageSamples("One. Two. Three.", [_run(fp, 1)])})
    path.write_text(dump_cache(cache))
    assert "models" not in json.loads(path.read_text())  # a cache without records keeps its bytes
    first = Origin("huggingface", fp, repository="openai-community/gpt2", commit="c1")
    assert record_origin(path, "essay", first)
    assert not record_origin(path, "essay", Origin("folder", fp, folder="x"))  # the first record stays
    passage = Passage("k2", 1, 0, "Four. Five. Six.", "Four. Five. Six.")
    record(path, "essay", passage, [_run(fp, 2, Origin("folder", fp, folder="x"))])
    loaded, warning = load_cache(path, "essay")
    assert warning is None
    assert {r.origin for e in loaded.passages.values() for r in e.runs} == {first}
    assert json.loads(path.read_text())["models"] == {fp: first.as_dict()}

    broken = json.loads(path.read_text())
    broken["models"][fp]["fingerprint"] = "sha256:00000000000000bb"
    path.write_text(json.dumps(broken))
    _, warning = load_cache(path, "essay")
    assert warning and "the record names the fingerprint sha256:00000000000000bb" in warning
    with pytest.raises(Exception, match="malformed entries"):  # generate never writes over it
        record_origin(path, "essay", first)


def test_check_notes_runs_whose_model_records_no_origin(exhibit, capsys):
    assert run_cli("check", "--content", str(exhibit), "--models-dir", str(exhibit / "none")) == 0
    err = capsys.readouterr().err
    assert "run(s) of model fixture hand-written do not record where its weights came from" in err
