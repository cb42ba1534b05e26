"""What each model and run was made on, the fingerprint of the checkpoint really restored,
and `check` saying why a cached run would not be made again here."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil

from tests.conftest import run_cli
from tests.stores import forge, store_of, store_text


def test_engine_threads_follow_affinity_and_quota_not_the_machine(monkeypatch, tmp_path):
    from generator import platform

    monkeypatch.setattr(platform.os, "sched_getaffinity", lambda pid: {3})
    monkeypatch.setattr(platform.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(platform, "_cpu_quota", lambda: None)
    assert platform.engine_threads() == 1
    monkeypatch.setattr(platform.os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(platform, "_cpu_quota", lambda: 2)
    assert platform.engine_threads() == 2
    assert platform.this_machine().threads == 2


def test_a_platform_says_what_differs():
    from generator.platform import Platform, this_machine

    here = this_machine()
    other = dataclasses.replace(here, isa="x86-64-v3", threads=here.threads + 2)
    assert Platform.from_dict(json.loads(json.dumps(other.as_dict()))) == other
    assert other.differences(here) == [f"threads {here.threads + 2} (here {here.threads})", f"isa x86-64-v3 (here {here.isa})"]


def test_the_fingerprint_hashes_the_checkpoint_that_is_restored(models, tmp_path):
    from generator.samples.engine.checkpoint import checkpoint_prefix, fingerprint

    folder = tmp_path / "tiny"
    shutil.copytree(models / "tiny", folder)
    (folder / ".fingerprint.json").unlink(missing_ok=True)
    base = fingerprint(folder)
    assert base == fingerprint(models / "tiny")
    old = hashlib.sha256()  # the fingerprint as every cached run recorded it: gpt-2-simple's files, in this order
    for name in ("encoder.json", "hparams.json", "model.ckpt.data-00000-of-00001", "model.ckpt.index", "model.ckpt.meta", "vocab.bpe"):
        old.update(name.encode() + (folder / name).read_bytes())
    assert base == "sha256:" + old.hexdigest()[:16]
    for f in list(folder.glob("model.ckpt.*")):
        shutil.copyfile(f, folder / f.name.replace("model.ckpt", "kept.ckpt"))
    data = folder / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:-1] + bytes([data.read_bytes()[-1] ^ 1]))  # model.ckpt is another model now
    assert fingerprint(folder) != base
    (folder / "checkpoint").write_text('model_checkpoint_path: "kept.ckpt"\nall_model_checkpoint_paths: "kept.ckpt"\n')
    assert checkpoint_prefix(folder) == folder / "kept.ckpt"
    assert fingerprint(folder) == base  # the files the engine restores now: the first model's bytes


def test_runs_and_the_demo_model_record_what_they_were_made_on(exhibit, models, tmp_path):
    from generator.platform import this_machine
    from generator.samples.store import load_cache
    from generator.samples.engine.checkpoint import read_made_on

    made_on = read_made_on(models / "tiny")
    assert made_on is not None and made_on.threads == len(os.sched_getaffinity(0))  # TensorFlow's default session
    assert dataclasses.replace(made_on, threads=0) == dataclasses.replace(this_machine(), threads=0)
    assert run_cli("generate", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "beta",
                   "--samples", "2", "--length", "12", "-q") == 0
    cache, _ = load_cache(store_of(exhibit, "beta"), "beta")
    runs = [r for e in cache.passages.values() for r in e.runs]
    assert runs and all(r.platform == this_machine() for r in runs)
    assert runs[0].platform.threads == len(os.sched_getaffinity(0))  # the thread count the engine ran with, here
    assert '"platform": {' in store_text(store_of(exhibit, "beta"))


def test_check_notes_runs_whose_model_is_not_here_or_that_were_made_elsewhere(exhibit, models, tmp_path, capsys):
    from generator.platform import this_machine
    from generator.samples.store import load_cache

    assert run_cli("generate", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "beta",
                   "--samples", "2", "--length", "12", "-q") == 0
    capsys.readouterr()
    assert run_cli("check", "--content", str(exhibit), "--models-dir", str(models)) == 0
    err = capsys.readouterr().err
    alpha = [line for line in err.splitlines() if "alpha.passages" in line]  # the fixture's legacy alpha.json, read through its store
    assert any("run(s) of model fixture" in line and "is not there" in line for line in alpha)  # the fixture's hand-written runs
    assert any("do not say what they were made on" in line for line in alpha)
    assert not [line for line in err.splitlines() if "beta.passages" in line]  # made here, by the model here: nothing to say
    # the same runs, as if made on an AVX2 machine with four threads
    path = store_of(exhibit, "beta")
    cache, _ = load_cache(path, "beta")
    elsewhere = dataclasses.replace(this_machine(), isa="x86-64-v3", threads=4)
    for entry in cache.passages.values():
        entry.runs = [dataclasses.replace(r, platform=elsewhere) for r in entry.runs]
    forge(path, "beta", cache)
    assert run_cli("check", "--content", str(exhibit), "--models-dir", str(models)) == 0
    beta = [line for line in capsys.readouterr().err.splitlines() if "beta.passages" in line]
    assert len(beta) == 1 and "made on another platform" in beta[0] and "isa x86-64-v3" in beta[0] and "threads 4" in beta[0]
    # and with the model gone, that is said too, in one line
    assert run_cli("check", "--content", str(exhibit), "--models-dir", str(tmp_path / "none")) == 0
    beta = [line for line in capsys.readouterr().err.splitlines() if "beta.passages" in line]
    assert len(beta) == 2 and any("run(s) of model tiny" in line and "is not there" in line for line in beta)


def test_a_run_of_an_older_engine_version_is_kept_noted_and_never_replaced(exhibit, models, monkeypatch, capsys):
    """A faster engine may change bits: its runs say which version made them, and an older
    version's runs stay as they are, even under generate --force, with check saying why."""
    from generator.samples.store import load_cache
    from generator.samples.engine import common
    from generator.samples.engine.fast import FastEngine

    args = ["generate", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "beta", "--samples", "2", "--length", "12", "-q"]
    assert run_cli(*args) == 0
    path = store_of(exhibit, "beta")
    cache, _ = load_cache(path, "beta")
    (entry,) = cache.passages.values()
    now = common.VERSIONS["fast"]
    assert [r.engine for r in entry.runs] == [now] * len(entry.runs) and f'"engine": {now}' in store_text(path)
    # as if this version had drawn other bits than the version to come
    old = dataclasses.replace(entry.runs[0], samples=tuple(s + f" (version {now})" for s in entry.runs[0].samples))
    entry.runs = [old]
    forge(path, "beta", cache)

    monkeypatch.setitem(common.VERSIONS, "fast", now + 1)
    monkeypatch.setattr(FastEngine, "version", now + 1)
    capsys.readouterr()
    assert run_cli("check", "--content", str(exhibit), "--models-dir", str(models)) == 0
    beta = [line for line in capsys.readouterr().err.splitlines() if "beta.passages" in line]
    assert len(beta) == 1 and f"1 run(s) were made by version {now} of the fast engine, this one is version {now + 1}" in beta[0]
    assert run_cli(*args, "--force") == 0
    cache, _ = load_cache(path, "beta")
    (entry,) = cache.passages.values()
    assert entry.runs[0] == old and entry.runs[0].id == old.id and entry.runs[0].engine == now  # kept, as it was
    assert [r.engine for r in entry.runs[1:]] == [now + 1] * (len(entry.runs) - 1) and entry.runs[1].id != old.id
