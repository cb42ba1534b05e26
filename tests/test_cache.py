import json
import os

import pytest

from generator.samples import cache as cache_mod
from generator.samples.cache import Params, PassageSamples, Run, SampleCache, load_cache, save_cache

PARAMS = Params(temperature=0.8, top_k=30, length=100, seed=7, finetune_steps=1, learning_rate=1e-4)


def sample_cache() -> SampleCache:
    c = SampleCache("e")
    c.passages["bbb"] = PassageSamples("Second passage.", [Run("m", "fp1", "fast", PARAMS, (" One.", " Two"), ("", "loop"))])
    c.passages["aaa"] = PassageSamples("First passage ünïcode.", [Run("m", "fp1", "seed", PARAMS, (" Three.",))])
    return c


def test_round_trip(tmp_path):
    path = tmp_path / "e.json"
    save_cache(path, sample_cache())
    loaded, warning = load_cache(path, "e")
    assert warning is None
    assert loaded.passages == sample_cache().passages
    run = loaded.passages["bbb"].runs[0]
    assert run.params == PARAMS and run.flags == ("", "loop") and run.model_fingerprint == "fp1"


def test_stable_sorted_formatting(tmp_path):
    path = tmp_path / "e.json"
    save_cache(path, sample_cache())
    first = path.read_bytes()
    save_cache(path, load_cache(path, "e")[0])
    assert path.read_bytes() == first
    data = json.loads(first)
    assert list(data["passages"]) == ["aaa", "bbb"]
    assert "ünïcode" in first.decode("utf-8")


def test_run_id_depends_on_parameters_only():
    a = Run("m", "fp", "fast", PARAMS, ("x",))
    b = Run("m", "fp", "fast", PARAMS, ("y", "z"))
    c = Run("m", "fp", "fast", Params(**{**PARAMS.__dict__, "top_k": 40}), ("x",))
    assert a.id == b.id != c.id


def test_adding_a_run_with_the_same_id_replaces_it():
    entry = PassageSamples("t")
    entry.add(Run("m", "fp", "fast", PARAMS, ("old",)))
    entry.add(Run("m", "fp", "fast", PARAMS, ("new",)))
    assert [r.samples for r in entry.runs] == [("new",)]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "e.json"
    save_cache(path, sample_cache())
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    bigger = sample_cache()
    bigger.passages["ccc"] = PassageSamples("Third.")
    with pytest.raises(OSError):
        save_cache(path, bigger)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["e.json"]  # no temp file left behind


@pytest.mark.parametrize("content", [b'{"format": 1, "passages": {"k": {"te', b"\xff\xfe", b"[]", b'{"format": 1, "passages": {"k": {"runs": []}}}'])
def test_corrupt_cache_warns_and_is_empty(tmp_path, content):
    path = tmp_path / "e.json"
    path.write_bytes(content)
    loaded, warning = load_cache(path, "e")
    assert loaded.passages == {}
    assert warning and str(path) in warning


def test_missing_cache_is_empty_without_warning(tmp_path):
    loaded, warning = load_cache(tmp_path / "none.json", "e")
    assert loaded.passages == {} and warning is None
    assert cache_mod.FORMAT == 1


def test_written_files_get_ordinary_permissions(tmp_path):
    save_cache(tmp_path / "e.json", sample_cache())
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "e.json").stat().st_mode & 0o777 == 0o666 & ~mask
