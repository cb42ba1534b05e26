"""A recipe the machine has not the memory for is refused before anything loads, with what it
needs and what there is; one that fits goes ahead."""

from __future__ import annotations

import dataclasses
import json

import pytest

from generator.errors import InputError
from generator.samples.engine import footprint
from generator.samples.engine.checkpoint import GPT2_124M
from tests.conftest import run_cli

XL = dataclasses.replace(GPT2_124M, n_embd=1600, n_head=25, n_layer=48)  # GPT-2 1558M's shape
GB = 10**9


@pytest.fixture
def laptop(monkeypatch):
    """A 16 GB machine with 12 GB free."""
    monkeypatch.delenv("VSR_MEMORY_CHECK", raising=False)
    monkeypatch.setattr(footprint, "available", lambda: (16 * GB, 12 * GB))


@pytest.fixture
def xl(tmp_path):
    folder = tmp_path / "1558M"
    folder.mkdir()
    (folder / "hparams.json").write_text(json.dumps(XL.as_dict()))
    return folder


def test_the_default_recipe_on_1558m_fits_a_16_gb_laptop(laptop, xl):
    footprint.check(xl, "fast", samples=10, length=100)
    assert footprint.need(XL, "fast").total < 9.5 * GB


@pytest.mark.parametrize("recipe, window", [("fast", True), ("seed", False)])
def test_training_on_windows_on_1558m_is_refused_naming_what_it_needs(laptop, xl, recipe, window):
    with pytest.raises(InputError) as err:
        footprint.check(xl, recipe, window=window, samples=10, length=100)
    message = str(err.value)
    assert str(xl) in message and "training on 1024-token windows" in message
    assert "this machine has 12.0 GB available of 16.0 GB" in message
    needed = footprint.need(XL, recipe, window=window).total
    assert needed > 20 * GB and f"needs about {needed / GB:.1f} GB" in message
    assert "The fast recipe training on the passage (the default) needs about" in message


def test_more_samples_need_more_memory_and_can_be_refused(laptop, xl):
    # every sample keeps 100 positions' keys and values: 48 layers x 2 x 1600 x 4 bytes each
    assert footprint.need(XL, "fast", samples=40).total > footprint.need(XL, "fast").total + 1.8 * GB
    footprint.check(xl, "fast", samples=40, length=100)
    with pytest.raises(InputError, match="needs about"):
        footprint.check(xl, "fast", samples=100, length=100)


def test_the_check_can_be_switched_off(laptop, xl, monkeypatch):
    monkeypatch.setenv("VSR_MEMORY_CHECK", "off")
    footprint.check(xl, "seed", samples=10, length=100)


def test_generate_refuses_before_it_loads_and_writes_nothing(exhibit, models, monkeypatch, capsys):
    """Too little memory for even the tiny model: generate stops with the message and exit 1,
    the engine never opened and the sample cache untouched."""
    from generator.samples.engine import fast

    monkeypatch.delenv("VSR_MEMORY_CHECK", raising=False)
    monkeypatch.setattr(footprint, "available", lambda: (2 * GB, GB // 2))
    opened = []
    monkeypatch.setattr(fast, "FastEngine", lambda *a, **k: opened.append(a))
    before = {p.name: p.read_bytes() for p in (exhibit / "samples").glob("*.json")}
    args = ("generate", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--length", "16", "--force")
    assert run_cli(*args) == 1
    err = capsys.readouterr().err
    assert "needs about" in err and "this machine has 0.5 GB available of 2.0 GB" in err
    assert {p.name: p.read_bytes() for p in (exhibit / "samples").glob("*.json")} == before
    assert not opened
