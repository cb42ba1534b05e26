"""The fast engine's kept graph (generator/samples/engine/graph_cache.py): an engine read from
it draws the same samples as one built in Python, without building; a damaged file is built
again; ``VSR_GRAPH_CACHE=off`` keeps nothing."""

from __future__ import annotations

import logging

import pytest

from tests.sampler_cases import draw


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VSR_GRAPH_CACHE", raising=False)
    return tmp_path / "xdg" / "verbosified-space-rovers" / "graphs"


def _engine(models, **options):
    from generator.samples.engine.fast import FastEngine

    return FastEngine(models / "tiny", **options)


def _no_building(monkeypatch):
    from generator.samples.engine.fast import FastEngine

    def refuse(*args, **kwargs):
        raise AssertionError("the engine built its graph in Python instead of reading the kept one")

    monkeypatch.setattr(FastEngine, "_build", refuse)


def _window_step(engine) -> list:
    """Two Adam steps on gpt-2-simple's five pasted windows: the weights after them."""
    import dataclasses

    from tests.sampler_cases import BASE, PROMPTS

    engine.finetune(PROMPTS[0], dataclasses.replace(BASE, train_on="window", finetune_steps=2))
    return engine.sess.run(engine.weights)


@pytest.mark.parametrize("options", [{}, {"window": True, "max_finetune_steps": 2}], ids=["default", "window"])
def test_an_engine_read_from_the_kept_graph_draws_what_a_built_one_draws(models, cache, monkeypatch, options):
    import numpy as np

    built = _engine(models, **options)
    try:
        expected = draw(built)
        weights = _window_step(built) if options else None
    finally:
        built.close()
    assert sorted(p.suffix for p in cache.iterdir() if p.is_file()) == [".json", ".pb"]  # and kernels/, where this process compiled them
    _no_building(monkeypatch)
    kept = _engine(models, **options)
    try:
        assert kept.graph_source == "kept"
        assert draw(kept) == expected
        assert kept.sess.run(kept.loss, {kept.tokens: [kept.encode("One short line.")]}) > 0
        if options:  # the accumulating optimizer and its Adam slots came back too
            assert all(np.array_equal(a, b) for a, b in zip(_window_step(kept), weights))
    finally:
        kept.close()


@pytest.mark.parametrize("other", [{"early_stop": False}, {"window": True}, {"max_finetune_steps": 2}])
def test_other_options_are_another_graph(models, cache, monkeypatch, other):
    _engine(models).close()
    _no_building(monkeypatch)
    with pytest.raises(AssertionError, match="built its graph"):
        _engine(models, **other)


def _rename_a_handle(graph, handles):
    """A kept graph whose handles name an operation it does not have: it parses, but does not import."""
    import json

    doc = json.loads(handles.read_text())
    doc["sampler"]["generated"] = "no/such/tensor:0"
    handles.write_text(json.dumps(doc))


@pytest.mark.parametrize("damage", ["cut", "digest", "handles", "others"])
def test_a_damaged_kept_graph_is_built_again(models, cache, caplog, damage):
    first = _engine(models)
    try:
        expected = draw(first)
    finally:
        first.close()
    (graph,) = cache.glob("*.pb")
    (handles,) = cache.glob("*.json")
    if damage == "cut":
        graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    elif damage == "digest":  # the same length, other bytes: only the digest can tell
        data = bytearray(graph.read_bytes())
        data[len(data) // 2] ^= 0xFF
        graph.write_bytes(bytes(data))
    elif damage == "handles":
        _rename_a_handle(graph, handles)
    else:  # writable by others: it could be anyone's program
        graph.chmod(0o666)
    with caplog.at_level(logging.WARNING):
        again = _engine(models)
    try:
        assert again.graph_source == "built"
        assert "building it again" in caplog.text and graph.stem in caplog.text
        assert draw(again) == expected
    finally:
        again.close()


def test_off_keeps_nothing(models, cache, monkeypatch):
    monkeypatch.setenv("VSR_GRAPH_CACHE", "off")
    _engine(models).close()
    assert not cache.exists()


def test_a_folder_of_its_own(models, tmp_path, monkeypatch):
    monkeypatch.setenv("VSR_GRAPH_CACHE", str(tmp_path / "mine"))
    _engine(models).close()
    assert sorted(p.suffix for p in (tmp_path / "mine").iterdir() if p.is_file()) == [".json", ".pb"]
    # its owner's only, and so is the kernels' folder in it where the engine compiled them there
    for folder in [tmp_path / "mine", *(p for p in (tmp_path / "mine").iterdir() if p.is_dir())]:
        assert folder.stat().st_mode & 0o777 == 0o700


def test_a_chosen_folder_keeps_what_else_it_holds(tmp_path, monkeypatch):
    """Eviction removes only the cache's own graphs, and an existing folder keeps its mode."""
    import os

    from generator.samples.engine import graph_cache
    from generator.samples.engine.tf import load

    tf, _ = load()
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    old, other = "a" * 32, mine / "notes.json"
    for path in (mine / f"{old}.json", mine / f"{old}.pb", other):
        path.write_text("{}")
        os.utime(path, (1, 1))  # older than anything written now
    monkeypatch.setenv("VSR_GRAPH_CACHE", str(mine))
    monkeypatch.setattr(graph_cache, "KEEP", 1)
    graph_cache.write("b" * 32, tf.Graph(), {})
    assert sorted(p.name for p in mine.iterdir()) == ["b" * 32 + ".json", "b" * 32 + ".pb", "notes.json"]
    assert mine.stat().st_mode & 0o777 == 0o755
