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


def test_an_engine_read_from_the_kept_graph_draws_what_a_built_one_draws(models, cache, monkeypatch):
    built = _engine(models)
    try:
        expected = draw(built)
    finally:
        built.close()
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".pb"]
    _no_building(monkeypatch)
    kept = _engine(models)
    try:
        assert draw(kept) == expected
        assert kept.sess.run(kept.loss, {kept.tokens: [kept.encode("One short line.")]}) > 0
    finally:
        kept.close()


def test_other_options_are_another_graph(models, cache, monkeypatch):
    _engine(models).close()
    _no_building(monkeypatch)
    with pytest.raises(AssertionError, match="built its graph"):
        _engine(models, early_stop=False)  # the loop without its end-of-text stop: not the kept graph


def test_a_damaged_kept_graph_is_built_again(models, cache, caplog):
    first = _engine(models)
    try:
        expected = draw(first)
    finally:
        first.close()
    (graph,) = cache.glob("*.pb")
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    with caplog.at_level(logging.WARNING):
        again = _engine(models)
    try:
        assert "building it again" in caplog.text and str(graph) in caplog.text
        assert draw(again) == expected
    finally:
        again.close()


def test_off_keeps_nothing(models, cache, monkeypatch):
    monkeypatch.setenv("VSR_GRAPH_CACHE", "off")
    _engine(models).close()
    assert not cache.exists()
