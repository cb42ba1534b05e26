"""A long text on the site (issue 28): published in chapters, each page under 1 MB with real-sized
samples behind every passage, the previous and next links one chain, a contents page, and the
sitemap listing every page."""

from __future__ import annotations

import re
from pathlib import Path

from generator.config import ChapterSettings
from generator.content.essays import parse_essay
from generator.content.layout import ContentLayout
from generator.samples.cache import Params, PassageSamples, Run, SampleCache
from generator.samples.store import load_cache
from generator.site.builder import Paths, build
from generator.site.chapters import chapters_of, relink
from tests.conftest import ROOT
from tests.stores import forge, store_of

BUDGET = 1_000_000  # bytes of HTML a page


def _committed_samples() -> list[str]:
    """The committed exhibit's samples (the demo model's, 100 tokens each): real-sized text."""
    layout = ContentLayout(ROOT / "content")
    caches = [load_cache(layout.samples(h.slug), h.slug)[0] for h in layout.essays()]
    return [s for c in caches for e in c.passages.values() for r in e.runs for s in r.samples if len(s) > 200]


def _novel(content: Path, paragraphs: int, headings: dict[int, str]) -> None:
    parts = []
    for i in range(paragraphs):
        if i in headings:
            parts.append(f"## {headings[i]}")
        parts.append(f"The rover left camp {i} before dawn. It crossed the ridge at noon. It wrote home about it.")
    (content / "essays" / "novel.md").write_text("Title: A Novel\n\n" + "\n\n".join(parts) + "\n")


def _samples_for_every_passage(content: Path) -> None:
    """Ten real-sized samples behind every passage, as ``generate`` would leave them."""
    essay = parse_essay(content / "essays" / "novel.md")
    pool = _committed_samples()
    assert len(pool) >= 10
    params = Params(0.8, 30, 100, 2019, 1, 1e-4)
    cache = SampleCache("novel")
    for p in essay.passages:
        samples = tuple(pool[(p.index * 10 + i) % len(pool)] for i in range(10))
        cache.passages[p.key] = PassageSamples(p.text, [Run("demo", "sha256:4d7eedb9c917fdc2", "fast", params, samples, engine=3)])
    forge(store_of(content, "novel"), "novel", cache)


def _links(html: str, rel: str) -> list[str]:
    return re.findall(rf'<a rel="{rel}" href="([^"]+)"', html)


def test_a_novel_is_published_in_chapters_under_the_budget_linked_in_one_chain(exhibit, tmp_path):
    toml = exhibit / "site.toml"
    toml.write_text('base_url = "https://example.org/piece/"\n' + re.sub(r"(?m)^base_url.*\n", "", toml.read_text()))  # the sitemap needs one
    _novel(exhibit, 330, {0: "Departure", 150: "The long plain"})
    _samples_for_every_passage(exhibit)
    out = tmp_path / "out"
    paths = Paths(content=exhibit, output=out, templates=ROOT / "site_templates", project=ROOT)
    build(paths)
    folder = out / "essays" / "novel"
    contents = (folder / "index.html").read_text()
    listed = re.findall(r'<li><a href="(\d+)/">([^<]+)</a>', contents)
    assert [t for _, t in listed] == ["Departure (1 of 2)", "Departure (2 of 2)", "The long plain (1 of 2)", "The long plain (2 of 2)"]
    pages = {n: (folder / n / "index.html").read_text() for n, _ in listed}
    assert sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "gifs") == sorted(pages)
    print("\nchapter pages, bytes:", {n: len(html.encode()) for n, html in pages.items()}, "contents:", len(contents.encode()))
    for n, html in pages.items():
        assert len(html.encode()) < BUDGET, f"chapter {n}: {len(html.encode())} bytes"
        assert "<ins>" in html or "compare passage" in html
    # every passage exactly once, in order
    numbers = [int(x) for n, _ in listed for x in re.findall(r'id="passage-(\d+)"', pages[n])]
    assert numbers == list(range(1, 331))
    # one chain: from the first, next after next reaches every chapter once; prev walks it back
    order, at = [], listed[0][0]
    while at is not None:
        order.append(at)
        nexts = _links(pages[at], "next")
        assert len(set(nexts)) <= 1
        at = nexts[0].strip("./") if nexts else None
    assert order == [n for n, _ in listed]
    back, at = [], order[-1]
    while at is not None:
        back.append(at)
        prevs = _links(pages[at], "prev")
        at = prevs[0].strip("./") if prevs else None
    assert back == order[::-1]
    sitemap = (out / "sitemap.xml").read_text()
    for n in order:
        assert f"<loc>https://example.org/piece/essays/novel/{n}/</loc>" in sitemap
    assert "<loc>https://example.org/piece/essays/novel/</loc>" in sitemap
    # the landing page links the contents; a short essay stays one page
    assert 'href="essays/novel/"' in (out / "index.html").read_text()
    assert not (out / "essays" / "alpha" / "1").exists()


def test_chapters_are_cut_at_headings_and_every_so_many_passages(tmp_path):
    path = tmp_path / "e.md"
    body = ["Opening words come first. They are short. They end."] + ["## One"] + [
        " ".join(f"Sentence {i}.{j} is here." for j in range(3)) for i in range(7)] + ["## Two"] + ["A last paragraph. It is brief. Done."]
    path.write_text("Title: E\n\n" + "\n\n".join(body) + "\n")
    essay = parse_essay(path)
    assert chapters_of(essay, ChapterSettings(after=9, every=3)) is None  # nine passages: one page
    chapters = chapters_of(essay, ChapterSettings(after=8, every=3))
    assert [c.title for c in chapters] == ["Passage 1", "One (1 of 3)", "One (2 of 3)", "One (3 of 3)", "Two"]
    assert [len(c.passages) for c in chapters] == [1, 3, 3, 1, 1]
    assert [p.index for c in chapters for p in c.passages] == list(range(9))
    # what follows a heading before the next paragraph (a list) stays, apart from the heading
    path.write_text("Title: E\n\nOne two three. Four five six. Seven eight.\n\n## Head\n\n- a list item\n- another\n\nNine ten. Eleven twelve. End here.\n")
    parts = chapters_of(parse_essay(path), ChapterSettings(after=1, every=3))
    assert [c.title for c in parts] == ["Passage 1", "Head"]
    assert [b.html.strip()[:4] for b in parts[1].blocks if not b.is_prose] == ["<h2>", "<ul>"]
    # what comes before the first heading with no passage in it is no chapter of its own
    path.write_text("Title: E\n\n![an image](../../static/favicon.svg)\n\n## Head\n\nOne two three. Four five six. Seven eight.\n\nNine ten. Eleven twelve. End here.\n")
    parts = chapters_of(parse_essay(path), ChapterSettings(after=1, every=3))
    assert [c.title for c in parts] == ["Head"] and "<img" in parts[0].blocks[0].html
    # a paragraph longer than a chapter is cut inside
    path.write_text("Title: E\n\n" + " ".join(f"Sentence {i} stands." for i in range(30)) + "\n")
    long = chapters_of(parse_essay(path), ChapterSettings(after=5, every=4))
    assert [len(c.passages) for c in long] == [4, 4, 2] and [c.title for c in long] == ["Passages 1–4", "Passages 5–8", "Passages 9–10"]


def test_links_inside_the_text_follow_their_target_to_its_chapter():
    pages = {"1/index.html": '<a href="#main">skip</a><main id="main"><sup id="fnref:a"><a href="#fn:a">1</a></sup></main>',
             "2/index.html": '<a href="#main">skip</a><main id="main"><li id="fn:a"><a href="#fnref:a">back</a></li><a href="#nowhere">x</a></main>'}
    out = relink(pages)
    assert 'href="../2/#fn:a"' in out["1/index.html"] and 'href="../1/#fnref:a"' in out["2/index.html"]
    assert out["1/index.html"].count('href="#main"') == 1 and 'href="#nowhere"' in out["2/index.html"]  # a page's own, and none
