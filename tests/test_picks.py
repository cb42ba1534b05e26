from pathlib import Path

from generator.content.essays import parse_essay
from generator.content.layout import ContentLayout
from generator.picks.candidates import PickRef, sample_sentences
from generator.picks.resolve import verbosify
from generator.picks.store import PassagePicks, Picks, dump_picks, load_picks, parse_picks
from generator.samples.store import load_cache


def test_cut_off_sentence_is_closed_when_long_enough():
    assert sample_sentences(" It rolled on. The wheels kept turning through the dust all night") == [
        ("It rolled on.", False),
        ("The wheels kept turning through the dust all night.", True),
    ]


def test_short_cut_off_sentence_is_dropped():
    assert sample_sentences(" It rolled on. And then it") == [("It rolled on.", False)]
    assert sample_sentences("") == []


def test_nothing_else_is_changed():
    (text, closed), = sample_sentences("  <b>odd</b>   spacing  stays?")
    assert text == "<b>odd</b> spacing stays?" and not closed


def test_pickref_round_trip():
    ref = PickRef.parse("rabc:3:1")
    assert (ref.run, ref.sample, ref.sentence) == ("rabc", 3, 1) and str(ref) == "rabc:3:1"


def test_fixture_picks_resolve_and_stale_is_reported(exhibit):
    essay = parse_essay(exhibit / "essays" / "alpha.md")
    cache, _ = load_cache(ContentLayout(exhibit).samples("alpha"), "alpha")
    picks, warnings = load_picks(exhibit / "picks" / "alpha.toml", "alpha")
    assert warnings == []
    v = verbosify(essay, cache, picks)
    first = v.at(essay.passages[0])
    assert [i.text for i in first.insertions][0] == "The cameras see far."
    closed = v.at(essay.passages[2]).insertions[0]
    assert closed.candidate.closed and closed.text.endswith("direction.")
    assert len(v.stale) == 1 and v.stale[0].passage == "000000000000"
    stats = v.stats
    assert stats.verbosified_words == stats.original_words + sum(vp.words_added for vp in v.passages.values())
    assert stats.passages_with_picks == 2 and stats.stale_picks == 1


def test_pick_into_missing_sample_is_stale(exhibit):
    essay = parse_essay(exhibit / "essays" / "alpha.md")
    cache, _ = load_cache(ContentLayout(exhibit).samples("alpha"), "alpha")
    key = essay.passages[0].key
    picks = Picks("alpha", {key: PassagePicks(key, [PickRef("rmissing", 0, 0), PickRef(cache.passages[key].runs[0].id, 9, 0)])})
    v = verbosify(essay, cache, picks)
    assert len(v.stale) == 2 and not v.at(essay.passages[0]).insertions


def test_broken_picks_file_warns(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[[passage]\nkey = ", "utf-8")
    picks, warnings = load_picks(p, "x")
    assert picks.passages == {} and str(p) in warnings[0]


def test_bad_pick_entry_names_line(tmp_path):
    text = '[[passage]]\nkey = "k"\npicks = [\n  "nonsense",\n  "r1:0:0",\n]\n'
    picks, warnings = parse_picks(text, "x", Path("x.toml"))
    assert [str(r) for r in picks.passages["k"].refs] == ["r1:0:0"]
    assert warnings and "x.toml:4" in warnings[0]


def test_dump_is_readable_and_parses_back(tmp_path):
    picks = Picks("x", {"k2": PassagePicks("k2", [PickRef("r1", 0, 1)], auto=True), "k1": PassagePicks("k1", [PickRef("r1", 2, 0)])})
    text = dump_picks(picks, title="T", passages={"k1": "First passage.", "k2": "Second."}, sentences={("k1", "r1:2:0"): "A picked sentence."})
    assert text.index('key = "k1"') < text.index('key = "k2"')
    assert "# A picked sentence." in text and "# > First passage." in text
    back, warnings = parse_picks(text, "x", Path("x.toml"))
    assert not warnings and back.passages["k2"].auto and not back.passages["k1"].auto
    assert back.passages["k1"].refs == [PickRef("r1", 2, 0)]


def test_rejected_candidates_round_trip_and_edits_keep_the_artists_lines(tmp_path):
    """The studio's writes: a pick appended or removed leaves every other line of the
    array, the artist's comments between them included, as it was."""
    from generator.picks.candidates import PickRef
    from generator.picks.store import PassagePicks, Picks, parse_picks, render_picks

    text = '# mine\n\n[[passage]]\nkey = "k1"\npicks = [\n  "r1:0:0",  # one\n  # keep this one\n  "r1:1:0",  # two\n]\n'
    picks, warnings = parse_picks(text, "e", tmp_path / "e.toml")
    assert warnings == [] and picks.passages["k1"].rejected == []
    entry = picks.passages["k1"]
    new = Picks("e", {"k1": PassagePicks("k1", entry.refs[1:] + [PickRef.parse("r1:2:0")], rejected=[PickRef.parse("r1:0:0")])})
    out = render_picks(text, new, title="E", passages={"k1": "The passage."}, sentences={("k1", "r1:2:0"): "Three is new."})
    assert out.startswith("# mine\n") and "  # keep this one\n  \"r1:1:0\",  # two\n" in out and "# one" not in out.split("rejected")[0]
    back, _ = parse_picks(out, "e", tmp_path / "e.toml")
    assert [str(r) for r in back.passages["k1"].refs] == ["r1:1:0", "r1:2:0"]
    assert [str(r) for r in back.passages["k1"].rejected] == ["r1:0:0"]
    assert back.passages["k1"].refs[1].check  # a new line carries its check
    again = render_picks(out, Picks("e", {"k1": PassagePicks("k1", back.passages["k1"].refs)}), title="E", passages={}, sentences={})
    assert "rejected" not in again and "# keep this one" in again
