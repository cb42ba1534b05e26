"""The artist's own Markdown: sentences found in the rendered text, markup kept whole,
plain prose in every prompt (tests/fixtures/writing)."""

from __future__ import annotations

import html
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from generator.check import check
from generator.content.essays import parse_essay
from generator.content.layout import ContentLayout
from generator.content.prose import prompt_problem
from generator.site.builder import Options, Paths, build
from tests.conftest import ROOT, run_cli

WRITING = Path(__file__).resolve().parent / "fixtures" / "writing"
ESSAY = WRITING / "essays" / "writing.md"
# Markdown or HTML syntax a reader never sees as such
SYNTAX = re.compile(r"[*_`<>]|\]\(|\[\[|\[\^|&(?:#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)
WHOLE = [
    ("em", "It showed a ridge that no map had predicted!"),
    ("strong", "Was it bedrock?"),
    ("em", "Dr. Ames thought it was bedrock, i.e. the old floor of a lake."),
    ("em", "Could the rover even climb it?"),  # closes its paragraph's third sentence
]


@pytest.fixture
def writing(tmp_path: Path) -> Path:
    dest = tmp_path / "content"
    shutil.copytree(WRITING, dest)
    return dest


class _Balance(HTMLParser):
    VOID = {"br", "img", "hr", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.wrong: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.wrong.append(tag)


def balanced(fragment: str) -> bool:
    parser = _Balance()
    parser.feed(fragment)
    parser.close()
    return not parser.stack and not parser.wrong


def test_a_sentence_in_emphasis_is_one_element_inside_its_passage():
    passages = parse_essay(ESSAY).passages
    for tag, sentence in WHOLE:
        holding = [p for p in passages if f"<{tag}>{sentence}</{tag}>" in p.html]
        assert len(holding) == 1, (tag, sentence, [p.html for p in passages])
    assert all(balanced(p.html) for p in passages)
    assert not any(p.text in ("*", "**", "_") for p in passages)


def test_an_element_across_a_passage_boundary_is_closed_and_opened_again():
    passages = parse_essay(ESSAY).passages
    first = next(p for p in passages if p.text.endswith("The team had been right!"))
    second = passages[first.index + 1]
    assert first.html.endswith("<em>The team had been right!</em>")
    assert second.html == "<em>The ridge was the floor of an old lake.</em>"


def test_passage_text_is_the_plain_prose_a_reader_sees():
    passages = parse_essay(ESSAY).passages
    for p in passages:
        assert not SYNTAX.search(p.text), p.text
    texts = " ".join(p.text for p in passages)
    assert "earlier work on slopes [1]." in texts  # a citation as it reads, its link on the page
    assert "from orbit. It looked like" in texts  # a footnote marker is not prose
    assert "the JPL archive. AT&T & others" in texts  # inline HTML gives its text, entities their character
    cited = next(p for p in passages if "[1]" in p.text)
    assert '[<a href="#references">1</a>]' in cited.html and 'class="footnote-ref"' in cited.html


def test_a_boundary_crosses_as_few_elements_as_it_can(tmp_path):
    path = tmp_path / "e.md"
    path.write_text("Title: T\n\nIt rained. [Then it stopped. ](#x)The dust settled.\n", "utf-8")
    assert [p.html for p in parse_essay(path, passage_size=1).passages] == ["It rained.", '<a href="#x">Then it stopped.</a>', "The dust settled."]


@pytest.mark.parametrize("body,size", [
    ("One here. Two here. Three here. *![i](a.png) Then it rained.* Done.", 3),  # an image opening an element that opens a passage
    ("One here. Two here. Three here. [![badge](b.png) The report](#r) came out.", 3),
    ("Hi there. *[![i](a.png)](#x) Then.* Done.", 1),
    ("It rained. ![i](a.png) Then it stopped.", 1),  # between two passages: with the one before
])
def test_an_image_at_a_boundary_is_in_exactly_one_passage(tmp_path, body, size):
    path = tmp_path / "e.md"
    path.write_text(f"Title: T\n\n{body}\n", "utf-8")
    passages = parse_essay(path, passage_size=size).passages
    assert len(passages) > 1 and sum(p.html.count("<img") for p in passages) == 1
    assert all(balanced(p.html) for p in passages)


def test_inline_html_gives_its_text_only(tmp_path):
    path = tmp_path / "e.md"
    path.write_text('Title: T\n\nIt rained. <!-- a > b --> Then it <span title="x>y">stopped</span>.\n', "utf-8")
    (p,) = parse_essay(path).passages
    assert p.text == "It rained. Then it stopped."


def test_links_inside_links_and_paragraphs_of_raw_links(tmp_path):
    path = tmp_path / "e.md"
    path.write_text('Title: T\n\n<a href="#a">The ridge</a><br>\n<a href="#b">The samples</a>\n\n'
                    "As [shown in [[1]]](#x) here. Then more.\n\n[1]: #refs\n", "utf-8")
    essay = parse_essay(path)
    (p,) = essay.passages
    assert p.text == "As shown in [1] here. Then more." and p.html.count("<a ") == 1 and balanced(p.html)
    assert '<a href="#b">The samples</a>' in essay.blocks[0].html  # only links: not prose


def test_an_image_on_its_own_line_is_a_figure_and_inline_it_is_prose(tmp_path):
    path = tmp_path / "e.md"
    path.write_text("Title: T\n\n![logo](a.png)\n*The logo, 2004.*\n\n![logo](a.png) It rained. Then it stopped.\n", "utf-8")
    essay = parse_essay(path)
    (p,) = essay.passages
    assert p.text == "It rained. Then it stopped." and p.html.startswith("<img")
    assert "<em>The logo, 2004.</em>" in essay.blocks[0].html


def test_no_boundary_inside_a_code_span():
    passages = parse_essay(ESSAY).passages
    (logged,) = [p for p in passages if "<code>Drive aborted. Slope too steep.</code>" in p.html]
    assert logged.text.startswith("The rover's log reads Drive aborted. Slope too steep. at sol 12")


def test_a_paragraph_of_links_is_not_prose():
    essay = parse_essay(ESSAY)
    assert not any("The samples" in p.text for p in essay.passages)
    contents = essay.blocks[0]
    assert not contents.is_prose and '<a href="#the-samples">The samples</a>' in contents.html


def test_a_passage_that_cannot_prompt_the_model_joins_its_neighbour(tmp_path):
    path = tmp_path / "e.md"
    path.write_text("Title: T\n\nRovers roll. Wheels turn. Dust flies. ?!\n\nMorning comes. Panels wake. Work starts. Onward\n\nOnward\n", "utf-8")
    passages = parse_essay(path).passages
    assert [(p.text, p.problem) for p in passages] == [
        ("Rovers roll. Wheels turn. Dust flies. ?!", None),
        ("Morning comes. Panels wake. Work starts. Onward", None),
        ("Onward", "a single word, too short to prompt the model"),  # a paragraph on its own: nothing to join
    ]
    path.write_text("Title: T\n\n?! Rovers roll. Wheels turn.\n", "utf-8")
    assert [p.text for p in parse_essay(path, passage_size=1).passages] == ["?! Rovers roll.", "Wheels turn."]  # the first joins the next


@pytest.mark.parametrize("text,problem", [("?!", True), ("…", True), ("— —", True), ("Onward", True), ("Why?", False), ("Go on", False)])
def test_what_cannot_prompt_the_model(text, problem):
    assert (prompt_problem(text) is not None) == problem


def test_the_page_shows_no_markdown_and_no_command(writing, tmp_path):
    out = tmp_path / "out"
    build(Paths(content=writing, output=out, templates=ROOT / "site_templates", project=ROOT))
    page = (out / "essays" / "writing" / "index.html").read_text("utf-8")
    article = page[page.index("<article") : page.index("</article>")]
    text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<code>.*?</code>", "", article, flags=re.S)))
    assert "*" not in text and "_" not in text
    reading = re.findall(r'<p class="passage-text">(.*?)</p>', page, re.S)
    for tag, sentence in WHOLE:
        assert sum(f"<{tag}>{sentence}</{tag}>" in p for p in reading) == 1, sentence
    assert page.count('id="fnref:orbit"') == 1  # the compare view's copies carry no ids
    assert "Not verbosified yet." in page
    for f in out.rglob("*.html"):  # no public page shows a command (this exhibit has no exploration either)
        assert "build.py" not in f.read_text("utf-8"), f
    assert "stays as it was written (a single word, too short to prompt the model)" in page

    build(Paths(content=writing, output=out, templates=ROOT / "site_templates", project=ROOT), Options(drafts=True))
    assert "build.py" not in (out / "essays" / "writing" / "index.html").read_text("utf-8")  # drafts alone may be shared
    build(Paths(content=writing, output=out, templates=ROOT / "site_templates", project=ROOT), Options(drafts=True, artist=True))  # serve's
    assert "python build.py generate --essay writing" in (out / "essays" / "writing" / "index.html").read_text("utf-8")


def test_check_lists_a_passage_that_cannot_prompt_the_model(writing):
    problems = check(ContentLayout(writing), templates=ROOT / "site_templates")
    (lone,) = [p for p in problems if "cannot prompt the model" in p.message]
    assert not lone.error and lone.path == writing / "essays" / "writing.md"
    assert "passage 8" in lone.message and "a single word" in lone.message
    assert lone.line == ESSAY.read_text("utf-8").split("\n").index("Onward") + 1
    assert not any(p.error for p in problems)


def test_generate_fills_every_prose_passage(writing, models, capsys):
    assert run_cli("generate", "--content", str(writing), "--models-dir", str(models), "--model", "tiny", "--samples", "2", "--length", "8") == 0
    essay = parse_essay(writing / "essays" / "writing.md")
    from generator.samples.store import load_cache

    cache, warning = load_cache(ContentLayout(writing).samples("writing"), "writing")
    lone = [p for p in essay.passages if p.problem]
    assert warning is None and [p.text for p in lone] == ["Onward"]
    assert set(cache.passages) == {p.key for p in essay.passages if not p.problem}
    for p in essay.passages:
        if not p.problem:
            assert cache.passages[p.key].text == p.text and not SYNTAX.search(p.text)
    err = capsys.readouterr().err
    assert "warning: essay 'writing', passage 8 (469191d5658e) is skipped: a single word" in err
    assert "generated 7 passage(s), skipped 0 already done" in err  # the lone passage is not counted as done


def test_the_exhibit_keeps_every_passage_key_and_pick():
    """Keys recorded before sentences were found in the rendered text: the committed
    samples and picks must still resolve."""
    from generator.config import load_config
    from generator.picks.resolve import verbosify
    from generator.picks.store import load_picks
    from generator.samples.store import load_cache

    layout = ContentLayout(ROOT / "content")
    config = load_config(layout.site_toml)
    pinned = json.loads((Path(__file__).resolve().parent / "fixtures" / "exhibit-passage-keys.json").read_text("utf-8"))
    paths = {h.slug: h.path for h in layout.essays(drafts=True)}
    assert sorted(pinned) == sorted(paths)
    for slug, keys in pinned.items():
        essay = parse_essay(paths[slug], passage_size=config.passage_size, splitter=config.sentence_splitter)
        assert [p.key for p in essay.passages] == keys
        cache, warning = load_cache(layout.samples(slug), slug)
        picks, warnings = load_picks(layout.picks(slug), slug)
        assert warning is None and not warnings
        assert set(picks.passages) <= set(keys) and set(cache.passages) <= set(keys)
        assert verbosify(essay, cache, picks, config.sentence_splitter).stale == ()


def test_the_studio_offers_no_samples_for_a_passage_that_cannot_prompt_the_model(writing, models, tmp_path):
    import urllib.error
    import urllib.request

    from tests.conftest import serve_studio

    lone = next(p for p in parse_essay(writing / "essays" / "writing.md").passages if p.problem)
    running = serve_studio(writing, tmp_path, models_dir=models, model="tiny")
    try:
        with urllib.request.urlopen(running.url + "essays/writing/") as r:
            page = r.read().decode()
        section = page[page.index(f'id="h-{lone.key}"') :]
        section = section[: section.index("</section>") if "</section>" in section else len(section)]
        assert "cannot prompt the model (a single word, too short to prompt the model): it stays as written" in section
        req = urllib.request.Request(running.url + "api/essays/writing/more", data=json.dumps({"passage": lone.key}).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-Studio-Token": running.token})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req)
        assert refused.value.code == 400 and "cannot prompt the model" in refused.value.read().decode()
        assert not ContentLayout(writing).samples("writing").exists() and not (writing / "samples" / "writing.json").exists()
    finally:
        running.server.shutdown()
        running.close()
