import pytest

from generator.config import load_config
from generator.errors import InputError


def test_defaults_when_missing(tmp_path):
    c = load_config(tmp_path / "site.toml")
    assert c.passage_size == 3 and c.generation.temperature == 0.8 and c.generation.top_k == 30 and c.generation.length == 100


def test_values_and_int_to_float(tmp_path):
    p = tmp_path / "site.toml"
    p.write_text('title = "X"\nbase_url = "https://e.org/sub"\n[generation]\ntemperature = 1\ntop_k = 80\n')
    c = load_config(p)
    assert c.title == "X" and c.generation.temperature == 1.0 and c.generation.top_k == 80 and c.absolute_base == "https://e.org/sub/"


@pytest.mark.parametrize(
    "text,line,words",
    [
        ('title = "X"\ncolour = "red"\n', 2, "unknown key 'colour'"),
        ('title = "X"\n\n[generation]\ntopk = 3\n', 4, "unknown key 'generation.topk'"),
        ('passage_size = "three"\n', 1, "must be int"),
        ('title = "X\n', 1, "invalid TOML"),
        ('passage_size = 0\n', 1, "at least 1"),
    ],
)
def test_bad_config_names_file_key_and_line(tmp_path, text, line, words):
    p = tmp_path / "site.toml"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(p)
    assert err.value.line == line and words in str(err.value) and str(p) in str(err.value)


def test_real_site_toml_is_valid():
    from pathlib import Path

    c = load_config(Path(__file__).resolve().parent.parent / "content" / "site.toml")
    assert c.title and c.statement
