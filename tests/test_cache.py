import json
import os

import pytest

from generator.samples import cache as cache_mod
from generator.fsutil import atomic_write_text
from generator.samples.cache import Params, PassageSamples, Run, SampleCache, dump_cache, parse_cache, run_id_for
from generator.samples.store import load_cache
from generator.samples.record import update_samples
from tests.conftest import ROOT

PARAMS = Params(temperature=0.8, top_k=30, length=100, seed=7, finetune_steps=1, learning_rate=1e-4)


def sample_cache() -> SampleCache:
    c = SampleCache("e")
    c.passages["bbb"] = PassageSamples("Second passage.", [Run("m", "fp1", "fast", PARAMS, (" One.", " Two"), ("", "loop"))])
    c.passages["aaa"] = PassageSamples("First passage ünïcode.", [Run("m", "fp1", "seed", PARAMS, (" Three.",))])
    return c


def save_cache(path, cache: SampleCache) -> None:
    atomic_write_text(path, dump_cache(cache))


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


def test_run_id_depends_on_parameters_and_sample_count():
    a = Run("m", "fp", "fast", PARAMS, ("x",))
    b = Run("m", "fp", "fast", PARAMS, ("y",))
    c = Run("m", "fp", "fast", PARAMS, ("y", "z"))
    d = Run("m", "fp", "fast", Params(**{**PARAMS.__dict__, "top_k": 40}), ("x",))
    assert a.id == b.id and len({a.id, c.id, d.id}) == 3  # the draws differ with the batch size


def test_every_committed_run_keeps_its_id():
    """Ids made before the sample count joined them stay valid: a 10-sample run's id is computed
    as it always was, and any other id is kept as the cache wrote it."""
    from generator.content.layout import ContentLayout
    from generator.samples import store

    layout = ContentLayout(ROOT / "content")
    raw = {}  # (essay or exploration, passage key) -> the runs as the file holds them
    for h in layout.essays(drafts=True):
        for f in sorted(layout.samples(h.slug).glob("*.json")):
            if f.name != store.MODELS:
                raw[(h.slug, f.stem)] = json.loads(f.read_text())["runs"]
    for f in layout.explore_files():
        raw.update({(f"explore/{f.stem}", key): entry["runs"] for key, entry in json.loads(f.read_text())["passages"].items()})
    caches = {h.slug: load_cache(layout.samples(h.slug), h.slug) for h in layout.essays(drafts=True)}
    caches.update({f"explore/{f.stem}": load_cache(f, f.stem) for f in layout.explore_files()})
    assert len(raw) > 20 and all(warning is None for _, warning in caches.values())
    for (name, key), stored_runs in raw.items():
        runs = caches[name][0].passages[key].runs
        assert [r.id for r in runs] == [r["id"] for r in stored_runs]
        for run, stored in zip(runs, stored_runs):
            if len(run.samples) == 10:  # computed today exactly as it was when the cache was written
                assert "r" + run_id_for(run.model_fingerprint, run.recipe, run.params, 10) == stored["id"], (name, stored["id"])


def test_runs_are_appended_never_replaced():
    entry = PassageSamples("t")
    old, new = entry.add(Run("m", "fp", "fast", PARAMS, ("old",)))
    assert new
    again, new = entry.add(Run("another-name", "fp", "fast", PARAMS, ("old",)))  # the same run: found, not added
    assert not new and again is old
    other, new = entry.add(Run("m", "fp", "fast", PARAMS, ("new",)))  # the same id, other samples: beside it
    assert new and other.id != old.id and [r.samples for r in entry.runs] == [("old",), ("new",)]
    third, _ = entry.add(Run("m", "fp", "fast", PARAMS, ("third",)))
    assert len({old.id, other.id, third.id}) == 3
    assert entry.run(old.id).samples == ("old",) and entry.run(other.id).samples == ("new",)


def test_the_ids_a_cache_holds_survive_a_round_trip(tmp_path):
    entry = PassageSamples("t")
    entry.add(Run("m", "fp", "fast", PARAMS, ("old",)))
    made, _ = entry.add(Run("m", "fp", "fast", PARAMS, ("new",)))
    cache = SampleCache("e", {"k": entry})
    loaded, problems = parse_cache(dump_cache(cache), "e")
    assert problems == [] and [r.id for r in loaded.passages["k"].runs] == [r.id for r in entry.runs]
    assert loaded.passages["k"].run(made.id).samples == ("new",)


def test_a_run_keeps_its_engine_version_and_a_bad_one_is_named():
    import dataclasses

    cache = sample_cache()
    cache.passages["bbb"].runs[0] = dataclasses.replace(cache.passages["bbb"].runs[0], engine=2)
    text = dump_cache(cache)
    loaded, problems = parse_cache(text, "e")
    assert not problems and loaded.passages["bbb"].runs[0].engine == 2 and loaded.passages["aaa"].runs[0].engine is None
    assert '"engine": 2' in text and text.count('"engine"') == 1  # a run made before versions were recorded says nothing
    data = json.loads(text)
    for bad in (0, True, "2", 1.5):
        data["passages"]["bbb"]["runs"][0]["engine"] = bad
        _, problems = parse_cache(json.dumps(data), "e")
        assert problems and "'engine' is not a version number" in problems[0], bad


def test_two_runs_with_one_id_are_a_malformed_entry():
    text = dump_cache(sample_cache())
    data = json.loads(text)
    runs = data["passages"]["bbb"]["runs"]
    runs.append({**runs[0], "samples": [" Other."], "flags": [""]})
    _, problems = parse_cache(json.dumps(data), "e")
    assert problems and "share the id" in problems[0]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "e.json"
    save_cache(path, sample_cache())
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        update_samples(path, "e", lambda c: c.passages.setdefault("ccc", PassageSamples("Third.")))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".e.json.lock", "e.json"]  # no temp file left behind


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
    update_samples(tmp_path / "e.json", "e", lambda c: c.passages.update(sample_cache().passages))
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "e.json").stat().st_mode & 0o777 == 0o666 & ~mask
