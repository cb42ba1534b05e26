"""An essay's sample store at a novel's scale (issue 28): a file per passage, a write that reads
and writes only its own passage, the same bytes in whatever order the passages come, and the
one-file caches of before read as they were and converted once, losing nothing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from generator.content.essays import Passage, passage_key
from generator.errors import InputError
from generator.fsutil import atomic_write_text
from generator.samples import store
from generator.samples.cache import Params, PassageSamples, Run, SampleCache, dump_cache
from generator.samples.origin import Origin
from generator.samples.record import record
from generator.samples.store import load_cache

PARAMS = Params(temperature=0.8, top_k=30, length=100, seed=7, finetune_steps=1, learning_rate=1e-4)
FP = "sha256:" + "ab" * 8
ORIGIN = Origin("random", FP, note="GPT-2's initialisation, seed 1")


def passage(n: int) -> Passage:
    text = f"Passage {n} of the book. It has three sentences. This is its third."
    return Passage(passage_key(text), n, n, text, text)


def run(n: int, seed: int = 7, origin: Origin | None = ORIGIN) -> Run:
    samples = tuple(f" Sample {i} of passage {n}, seed {seed}." for i in range(3))
    return Run("bench", FP, "fast", Params(**{**PARAMS.__dict__, "seed": seed}), samples, engine=3, origin=origin)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_a_write_reads_and_writes_its_own_passage_only(tmp_path):
    folder = tmp_path / "samples" / "novel.passages"
    for n in range(40):
        record(folder, "novel", passage(n), [run(n)])
    assert sorted(files(folder)) == sorted([f"{passage(n).key}.json" for n in range(40)] + ["models.json"])
    other = store.passage_file(folder, passage(3).key)
    other.write_text("{ broken")  # a write that read every passage would stop here
    before = stats(folder)
    done = record(folder, "novel", passage(7), [run(7, seed=8)])
    assert done.new == [True] and len(done.entry.runs) == 2
    after = stats(folder)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {f"{passage(7).key}.json"}  # not the models record (the model had one), not another passage
    cache, warning = load_cache(folder, "novel")
    assert str(other) in warning and passage(3).key not in cache.passages  # named, left out, never written over
    assert [r.params.seed for r in cache.passages[passage(7).key].runs] == [7, 8]
    with pytest.raises(InputError, match="cannot be read"):
        record(folder, "novel", passage(3), [run(3, seed=9)])
    assert other.read_text() == "{ broken"


def test_the_bytes_do_not_depend_on_the_order_passages_are_recorded_in(tmp_path):
    """What many workers finishing in any order need: each passage's file holds its own runs only."""
    order = list(range(30))
    shuffled = order[:]
    random.Random(28).shuffle(shuffled)
    a, b = tmp_path / "a" / "novel.passages", tmp_path / "b" / "novel.passages"
    for n in order:
        record(a, "novel", passage(n), [run(n)])
        record(a, "novel", passage(n), [run(n, seed=9)])
    for n in shuffled:
        record(b, "novel", passage(n), [run(n)])
    for n in reversed(shuffled):
        record(b, "novel", passage(n), [run(n, seed=9)])
    assert files(a) == files(b)
    assert load_cache(a, "novel") == load_cache(b, "novel")


def test_a_models_first_record_stays_and_runs_carry_it(tmp_path):
    folder = tmp_path / "novel.passages"
    record(folder, "novel", passage(0), [run(0, origin=None)])
    assert not (folder / store.MODELS).exists()  # no record yet, none written
    record(folder, "novel", passage(1), [run(1)])
    later = Origin("random", FP, note="another note, later")
    record(folder, "novel", passage(2), [run(2, origin=later)])
    kept = json.loads((folder / store.MODELS).read_text())
    assert kept["models"] == {FP: ORIGIN.as_dict()}
    cache, _ = load_cache(folder, "novel")
    assert {r.origin for e in cache.passages.values() for r in e.runs} == {ORIGIN}  # the earlier run too
    assert '"origin"' not in store.passage_file(folder, passage(1).key).read_text()  # kept once, in models.json


def _legacy(tmp_path: Path, passages: range) -> tuple[Path, SampleCache]:
    cache = SampleCache("novel", {passage(n).key: PassageSamples(passage(n).text, [run(n)]) for n in passages})
    folder = tmp_path / "samples" / "novel.passages"
    atomic_write_text(store.legacy_file(folder), dump_cache(cache))
    return folder, cache


def test_a_legacy_file_is_read_and_the_first_write_converts_it(tmp_path):
    folder, old = _legacy(tmp_path, range(5))
    cache, warning = load_cache(folder, "novel")
    assert warning is None and cache.passages == old.passages and not folder.exists()  # read as it is: reading writes nothing
    assert {r.origin for e in cache.passages.values() for r in e.runs} == {ORIGIN}
    ids = {k: [r.id for r in e.runs] for k, e in cache.passages.items()}
    record(folder, "novel", passage(2), [run(2, seed=8)])
    assert not store.legacy_file(folder).exists()
    assert sorted(files(folder)) == sorted([f"{passage(n).key}.json" for n in range(5)] + ["models.json"])
    after, warning = load_cache(folder, "novel")
    assert warning is None
    assert {k: [r.id for r in e.runs][: len(ids[k])] for k, e in after.passages.items()} == ids  # every run kept, under its id
    assert len(after.passages[passage(2).key].runs) == 2
    assert {r.origin for e in after.passages.values() for r in e.runs} == {ORIGIN}


def test_a_conversion_cut_short_is_read_whole_and_finished_by_the_next_write(tmp_path):
    folder, old = _legacy(tmp_path, range(4))
    # as a writer killed mid-conversion leaves it: one passage moved, with a run recorded since
    entry = PassageSamples(passage(1).text, [run(1), run(1, seed=8)])
    atomic_write_text(store.passage_file(folder, passage(1).key), store.dump_passage("novel", passage(1).key, entry))
    cache, warning = load_cache(folder, "novel")
    assert warning is None and set(cache.passages) == set(old.passages)
    assert [r.params.seed for r in cache.passages[passage(1).key].runs] == [7, 8]  # each run once
    assert store.load_passage(folder, "novel", passage(1).key) == cache.passages[passage(1).key]
    record(folder, "novel", passage(3), [run(3, seed=8)])
    assert not store.legacy_file(folder).exists()
    after, _ = load_cache(folder, "novel")
    assert [r.params.seed for r in after.passages[passage(1).key].runs] == [7, 8]
    assert [r.params.seed for r in after.passages[passage(3).key].runs] == [7, 8]
    assert set(after.passages) == set(old.passages)


def test_a_legacy_file_that_cannot_be_read_is_never_converted(tmp_path):
    folder, _ = _legacy(tmp_path, range(2))
    legacy = store.legacy_file(folder)
    legacy.write_text(legacy.read_text()[:-40])
    broken = legacy.read_bytes()
    cache, warning = load_cache(folder, "novel")
    assert not cache.passages and str(legacy) in warning
    with pytest.raises(InputError, match=str(legacy)):
        record(folder, "novel", passage(0), [run(0, seed=8)])
    assert legacy.read_bytes() == broken and not any(folder.glob("*.json"))


def test_a_write_changes_what_the_studio_and_the_build_see(tmp_path):
    folder = tmp_path / "novel.passages"
    record(folder, "novel", passage(0), [run(0)])
    sig, digest = store.signature(folder), store.content_digest(folder)
    record(folder, "novel", passage(0), [run(0)])  # the same run: found, nothing written
    assert store.signature(folder) == sig and store.content_digest(folder) == digest
    record(folder, "novel", passage(0), [run(0, seed=8)])
    assert store.signature(folder) != sig and store.content_digest(folder) != digest


def test_generate_and_pick_refuse_a_passage_file_that_cannot_be_read_and_name_it(exhibit, models, capsys):
    from tests.conftest import run_cli
    from tests.stores import store_of

    folder = store_of(exhibit, "alpha")
    store.convert(folder, "alpha")
    broken = sorted(p for p in folder.glob("*.json") if p.name != store.MODELS)[0]
    broken.write_text('{"format": 1, "essay": "alpha", "key": "' + broken.stem + '", "text": 3, "runs": []}')
    before = files(folder)
    capsys.readouterr()
    assert run_cli("generate", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "alpha",
                   "--samples", "2", "--length", "8", "-q") == 1
    assert str(broken) in capsys.readouterr().err  # the one file of many to fix
    assert run_cli("pick", "--content", str(exhibit), "--essay", "alpha", "-q") == 1
    assert str(broken) in capsys.readouterr().err
    assert files(folder) == before
