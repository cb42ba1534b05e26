"""Auto-pick and stats on a fixture essay with a hand-written sample cache."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generator.content.essays import count_words, parse_essay
from generator.picks.auto import auto_pick
from generator.picks.candidates import PickRef
from generator.picks.resolve import verbosify
from generator.picks.store import PassagePicks, Picks, dump_picks, parse_picks
from generator.fsutil import atomic_write_text
from generator.samples.cache import Params, PassageSamples, Run, SampleCache, dump_cache
from tests.conftest import run_cli

ESSAY = """Title: Dust
Date: 2026-01-01

The rover Curiosity climbs Mount Sharp slowly. Its drill samples layered rock. Scientists read the layers like pages.

Dust storms cover the solar panels of Opportunity. Power drops every dusty day. Engineers wait for wind to clean the panels.

The helicopter Ingenuity flies above Jezero crater. Each flight lasts about two minutes. Its cameras scout paths for the rover.
"""

# Per passage: sentences that say the passage's things in new words, an exact
# copy of an essay sentence, and sentences about something else entirely.
ON_TOPIC = [
    ["Curiosity keeps climbing the slopes of Mount Sharp, one layer at a time.", "The drill on Curiosity brings up powder from each layered rock.", "Every layer of rock on Mount Sharp is a page the scientists can read.", "Slowly the rover reads the mountain from the bottom up."],
    ["Opportunity lost power whenever dust storms covered its solar panels.", "Engineers could only wait for the wind to clean the dusty panels.", "Each dusty day meant less power for the patient rover.", "A gust of wind would clean the solar panels and bring the power back."],
    ["Ingenuity scouts paths across Jezero crater for the rover below.", "Every flight of the helicopter lasts only about two minutes.", "The cameras of Ingenuity show the rover where the crater is safe.", "Above Jezero crater the little helicopter flies ahead of the rover."],
]
OFF_TOPIC = ["Bananas are rich in potassium and taste sweet.", "The orchestra tuned its violins before the concert began.", "Medieval castles were built with thick stone walls."]
PARAMS = Params(temperature=0.8, top_k=30, length=100, seed=1, finetune_steps=1, learning_rate=1e-4)


@pytest.fixture
def content(tmp_path) -> Path:
    root = tmp_path / "content"
    (root / "essays").mkdir(parents=True)
    (root / "essays" / "dust.md").write_text(ESSAY)
    essay = parse_essay(root / "essays" / "dust.md")
    cache = SampleCache("dust")
    for i, passage in enumerate(essay.passages):
        copy = passage.text.split(". ")[0] + "."
        samples = (
            " " + " ".join(ON_TOPIC[i][:2]) + " " + OFF_TOPIC[i],
            " " + copy + " " + ON_TOPIC[i][2],
            " " + OFF_TOPIC[(i + 1) % 3] + " " + ON_TOPIC[i][3] + " And the rover kept going across the rocks until",
            " Then it",
        )
        cache.passages[passage.key] = PassageSamples(passage.text, [Run("fixture", "hand-written", "fast", PARAMS, samples)])
    atomic_write_text(root / "samples" / "dust.json", dump_cache(cache))
    return root


def load(content: Path):
    from generator.samples.store import load_cache

    essay = parse_essay(content / "essays" / "dust.md")
    cache, _ = load_cache(content / "samples" / "dust.json", "dust")
    return essay, cache


def picked_texts(essay, cache, picks) -> list[str]:
    v = verbosify(essay, cache, picks)
    return [i.text for vp in v.passages.values() for i in vp.insertions]


def test_ratio_reached_without_copies_or_off_topic(content):
    essay, cache = load(content)
    picks, report = auto_pick(essay, cache, Picks("dust"), ratio=2.0)
    assert abs(report.ratio - 2.0) <= 0.1  # within 5%
    v = verbosify(essay, cache, picks)
    assert v.stats.verbosified_words == report.verbosified_words
    texts = picked_texts(essay, cache, picks)
    essay_sentences = {s.strip() for p in essay.passages for s in re.split(r"(?<=\.)\s", p.text)}
    assert not essay_sentences & set(texts)
    assert not set(OFF_TOPIC) & set(texts)
    assert len(texts) == len(set(texts))
    assert "Then it." not in texts  # a short cut-off sentence is never closed and picked


def test_lower_ratio_picks_fewer(content):
    essay, cache = load(content)
    _, half = auto_pick(essay, cache, Picks("dust"), ratio=1.5)
    _, double = auto_pick(essay, cache, Picks("dust"), ratio=2.0)
    # on a 59-word essay one sentence is a fifth of it: "as close as the sentences allow"
    assert half.verbosified_words < double.verbosified_words and abs(half.ratio - 1.5) <= 0.1


def test_cut_off_sentence_can_be_picked_and_is_marked(content):
    from generator.picks.auto import usable_candidates

    essay, cache = load(content)
    closed = [s for found in usable_candidates(essay, cache).values() for s in found if s.candidate.closed]
    assert closed, "the fixture's long cut-off sentence is a usable candidate, closed with a period"
    assert all(s.candidate.text.endswith("until.") for s in closed)
    chosen = closed[0]
    picks = Picks("dust", {chosen.passage: PassagePicks(chosen.passage, [chosen.candidate.ref])})
    (inserted,) = [i for vp in verbosify(essay, cache, picks).passages.values() for i in vp.insertions]
    assert inserted.candidate.closed and inserted.text.endswith("until.")


def test_deterministic(content):
    essay, cache = load(content)
    a, _ = auto_pick(essay, cache, Picks("dust"))
    b, _ = auto_pick(essay, cache, Picks("dust"))
    dump = lambda p: dump_picks(p, title="Dust", passages={x.key: x.text for x in essay.passages}, sentences={})  # noqa: E731
    assert dump(a) == dump(b)


def test_manual_picks_kept_unless_forced(content):
    essay, cache = load(content)
    first = essay.passages[0]
    run = cache.passages[first.key].runs[0]
    manual = Picks("dust", {first.key: PassagePicks(first.key, [PickRef(run.id, 0, 2)])})  # the off-topic one, by hand
    kept, _ = auto_pick(essay, cache, manual)
    assert kept.passages[first.key].refs == [PickRef(run.id, 0, 2)] and not kept.passages[first.key].auto
    forced, _ = auto_pick(essay, cache, manual, force=True)
    assert forced.passages[first.key].auto and PickRef(run.id, 0, 2) not in forced.passages[first.key].refs


def test_pick_and_stats_commands(content, capsys, tmp_path):
    assert run_cli("pick", "--content", str(content), "-q") == 0
    text = (content / "picks" / "dust.toml").read_text()
    picks, warnings = parse_picks(text, "dust", Path("x"))
    assert not warnings and picks.passages and "auto = true" in text and "# > The rover Curiosity" in text
    # a hand edit survives a re-run
    edited = text.replace("auto = true\n", "", 1)
    (content / "picks" / "dust.toml").write_text(edited)
    assert run_cli("pick", "--content", str(content), "-q") == 0
    assert (content / "picks" / "dust.toml").read_text().count("auto = true") == text.count("auto = true") - 1
    capsys.readouterr()
    assert run_cli("stats", "--content", str(content), "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert set(row) == {"slug", "title", "passages", "passages_with_samples", "passages_with_picks", "original_words", "verbosified_words", "ratio", "stale_picks"}
    assert row["passages"] == 3 and row["passages_with_samples"] == 3 and row["stale_picks"] == 0
    assert abs(row["ratio"] - 2.0) <= 0.1
    # the site shows the same numbers
    out = tmp_path / "site"
    (content / "site.toml").write_text('title = "T"\n')
    assert run_cli("build", "--content", str(content), "--output", str(out), "-q") == 0
    page = (out / "essays" / "dust" / "index.html").read_text()
    assert f"{row['original_words']:,} → {row['verbosified_words']:,} words" in page
    assert f"×{row['ratio']:.2f}" in page


def test_stats_counts_stale_picks(content, capsys):
    (content / "picks").mkdir(exist_ok=True)
    (content / "picks" / "dust.toml").write_text('[[passage]]\nkey = "000000000000"\npicks = ["rx:0:0"]\n')
    assert run_cli("stats", "--content", str(content), "--json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)[0]["stale_picks"] == 1 and "stale pick" in err
    assert count_words("a b") == 2


def test_a_sentence_that_loops_is_never_picked(content):
    essay, cache = load(content)
    first = essay.passages[0]
    looping = "The rover climbs the layered rock and the rover climbs the layered rock of Mount Sharp."
    entry = cache.passages[first.key]
    entry.add(Run("fixture", "hand-written", "fast", Params(**{**PARAMS.__dict__, "seed": 2}), (" " + looping,)))
    picks, _ = auto_pick(essay, cache, Picks("dust"))
    assert looping not in picked_texts(essay, cache, picks)


def test_pick_keeps_what_the_artist_wrote_in_the_file(content):
    """Comments, formatting and order the artist wrote survive `pick`; only what it
    chose changes, and --force is what replaces the artist's own entries."""
    essay, cache = load(content)
    first, second, third = essay.passages
    run = cache.passages[first.key].runs[0]
    own = (
        "# My curation notes: keep the drill line, it is the heart of the essay.\n\n"
        "[[passage]]\n"
        f'key = "{third.key}"   # the helicopter one, first because I like it\n'
        "# I chose this by reading all four samples.\n"
        f'picks = ["{run.id.replace(run.id, cache.passages[third.key].runs[0].id)}:0:0"]  # scouting\n'
        "\n[[passage]]\n"
        f'key = "{first.key}"\n'
        "auto = true\n"
        f'picks = ["{run.id}:1:1"]\n'
    )
    path = content / "picks" / "dust.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(own)
    assert run_cli("pick", "--content", str(content), "--ratio", "2.5", "-q") == 0
    after = path.read_text()
    hand_written = own.split("\n[[passage]]\nkey = \"" + first.key)[0]
    assert after.startswith(hand_written)  # the header comment and the artist's entry, byte for byte, still first
    picks, warnings = parse_picks(after, "dust", path)
    assert not warnings and list(picks.passages)[0] == third.key and not picks.passages[third.key].auto
    assert picks.passages[first.key].auto
    assert second.key in picks.passages and picks.passages[second.key].auto  # new entries are appended
    assert run_cli("pick", "--content", str(content), "--ratio", "2.5", "-q") == 0
    assert path.read_text() == after  # nothing changed, nothing rewritten
    assert run_cli("pick", "--content", str(content), "--ratio", "2.5", "--force", "-q") == 0
    forced, _ = parse_picks(path.read_text(), "dust", path)
    assert forced.passages[third.key].auto and "# My curation notes" in path.read_text()


def test_auto_pick_leaves_rejected_candidates_alone_and_one_passage_can_be_picked():
    from pathlib import Path

    from generator.content import ContentLayout, read_essays
    from generator.picks.auto import auto_pick, pick_passage
    from generator.picks.store import load_picks
    from generator.samples.store import load_cache

    layout = ContentLayout(Path(__file__).resolve().parent.parent / "content")
    essay = read_essays(layout, only=["more-is-more"])[0]
    cache, _ = load_cache(layout.samples(essay.slug), essay.slug)
    picks, _ = load_picks(layout.picks(essay.slug), essay.slug)
    first, _ = auto_pick(essay, cache, picks, force=True)
    key = next(k for k, e in first.passages.items() if e.refs)
    no = first.passages[key].refs[0]
    picks.passages[key].rejected = [no]
    second, _ = auto_pick(essay, cache, picks, force=True)
    assert no not in second.passages[key].refs and second.passages[key].rejected == [no]
    one = pick_passage(essay, cache, picks, key, ratio=2.0)
    assert one.auto and one.refs and no not in one.refs
    passage = next(p for p in essay.passages if p.key == key)
    from generator.picks.candidates import resolve_ref

    added = sum(resolve_ref(cache.for_passage(key).run(r.run), r).words for r in one.refs)
    assert abs(added - passage.words) <= passage.words  # about the passage's length again, at ratio 2


def test_the_indexed_near_copy_check_answers_as_comparing_every_pair():
    """NearCopies compares a candidate only with sentences sharing enough of its words: the same
    answer as near_copy against each (a novel's auto-pick went from 135 s to 5 s with it)."""
    import random

    from generator.picks.auto import NearCopies, near_copy

    rng = random.Random(28)
    vocab = [f"w{i}" for i in range(30)]
    sentences = [[rng.choice(vocab) for _ in range(rng.randint(3, 12))] for _ in range(300)]
    index = NearCopies(sentences)
    candidates = [[rng.choice(vocab) for _ in range(rng.randint(0, 12))] for _ in range(600)]
    candidates += [s[:-1] + [rng.choice(vocab)] for s in sentences[:100]]  # near copies, one word changed
    answers = [index.near(c) for c in candidates]
    assert answers == [any(near_copy(c, s) for s in sentences) for c in candidates]
    assert 20 < sum(answers) < len(candidates) - 20  # both answers are asked for, often
