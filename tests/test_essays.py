from pathlib import Path

import pytest

from generator.content.essays import parse_essay, passage_key
from generator.errors import InputError

HEADER = "Title: T\nDate: 2026-01-01\n\n"


def write(tmp_path: Path, body: str, name: str = "e.md", header: str = HEADER) -> Path:
    p = tmp_path / name
    p.write_text(header + body, "utf-8")
    return p


def test_passages_are_three_sentences_of_one_paragraph(tmp_path):
    body = "Rovers roll. Wheels turn. Dust flies. Night falls.\n\nMorning comes. Panels wake.\n"
    essay = parse_essay(write(tmp_path, body))
    texts = [p.text for p in essay.passages]
    assert texts == ["Rovers roll. Wheels turn. Dust flies.", "Night falls.", "Morning comes. Panels wake."]
    assert [p.paragraph for p in essay.passages] == [0, 0, 1]
    assert [p.index for p in essay.passages] == [0, 1, 2]


def test_passage_size_is_configurable(tmp_path):
    essay = parse_essay(write(tmp_path, "Rovers roll. Wheels turn. Dust flies. Night falls.\n"), passage_size=2)
    assert [p.text for p in essay.passages] == ["Rovers roll. Wheels turn.", "Dust flies. Night falls."]


def test_only_prose_paragraphs_are_passages(tmp_path):
    body = (
        "## Heading here.\n\nProse one. Prose two.\n\n- item one. item two.\n\n> Quoted text. More.\n\n"
        "    code. code.\n\n![alt](x.png)\n\n<div>raw html. here.</div>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    essay = parse_essay(write(tmp_path, body))
    assert [p.text for p in essay.passages] == ["Prose one. Prose two."]
    others = "".join(b.html for b in essay.blocks if not b.is_prose)
    for fragment in ("<h2>Heading here.</h2>", "<li>", "<blockquote>", "<code>", '<img alt="alt" src="x.png"', "<div>raw html. here.</div>", "<table>"):
        assert fragment in others


def test_inline_markdown_kept_in_html_but_not_in_prompt(tmp_path):
    essay = parse_essay(write(tmp_path, "The *arm* has [five](http://e.x/a.b) joints. It & the drill work.\n"))
    (p,) = essay.passages
    assert "<em>arm</em>" in p.html and 'href="http://e.x/a.b"' in p.html
    assert p.text == "The arm has five joints. It & the drill work."


def test_editing_one_passage_changes_only_its_key(tmp_path):
    a = parse_essay(write(tmp_path, "Rovers roll. Wheels turn. Dust flies. Night falls.\n\nMorning comes. Panels wake.\n"))
    b = parse_essay(write(tmp_path, "Rovers roll. Wheels turn. Dust flies. Night falls fast.\n\nMorning comes. Panels wake.\n"))
    ka, kb = [p.key for p in a.passages], [p.key for p in b.passages]
    assert ka[0] == kb[0] and ka[2] == kb[2] and ka[1] != kb[1]


def test_key_ignores_whitespace_only():
    assert passage_key("A  b.\n C.") == passage_key("A b. C.")
    assert passage_key("A b. C.") != passage_key("A b. D.")


def test_meta_fields(tmp_path):
    essay = parse_essay(write(tmp_path, "Text here.\n", header="Title: My Title\nAuthor: Me\nDate: 2026-02-03\nSummary: Short\n    and continued.\nOrder: 4\n\n"))
    assert (essay.title, essay.author, str(essay.date), essay.summary, essay.order) == ("My Title", "Me", "2026-02-03", "Short and continued.", 4)


@pytest.mark.parametrize(
    "content,line,words",
    [
        ("Title: T\nthis is not meta\n\nBody.\n", 2, "malformed meta-data line"),
        ("Title: T\nColour: red\n\nBody.\n", 2, "unknown meta-data key 'Colour'"),
        ("Title: T\nDate: yesterday\n\nBody.\n", 2, "Date must be YYYY-MM-DD"),
        ("Title: T\nOrder: first\n\nBody.\n", 2, "Order must be a whole number"),
        ("Just a body without header.\n", 1, "missing meta-data header"),
        ("Title: T\n\n   \n", 3, "no text"),
    ],
)
def test_bad_essays_name_file_and_line(tmp_path, content, line, words):
    p = tmp_path / "bad.md"
    p.write_text(content, "utf-8")
    with pytest.raises(InputError) as err:
        parse_essay(p)
    assert err.value.path == p and err.value.line == line
    assert words in str(err.value) and str(p) in str(err.value)


def test_non_utf8_essay(tmp_path):
    p = tmp_path / "latin.md"
    p.write_bytes(b"Title: T\n\nCaf\xe9 on Mars.\n")
    with pytest.raises(InputError) as err:
        parse_essay(p)
    assert err.value.line == 3 and "UTF-8" in str(err.value)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.md"
    p.write_bytes(b"")
    with pytest.raises(InputError):
        parse_essay(p)


def test_very_long_paragraph(tmp_path):
    body = " ".join(f"Sentence number {i} is about rovers." for i in range(700)) + "\n"
    essay = parse_essay(write(tmp_path, body))
    assert len(essay.passages) == 234 and essay.words > 3500


def test_real_essays_meet_the_brief():
    root = Path(__file__).resolve().parent.parent / "content" / "essays"
    essays = [parse_essay(p) for p in sorted(root.glob("*.md"))]
    assert len(essays) >= 2
    longest = max(essays, key=lambda e: e.words)
    assert longest.words >= 1000 and len({p.paragraph for p in longest.passages}) >= 10
    assert "rover" in longest.title.lower() or "rover" in " ".join(p.text for p in longest.passages).lower()
