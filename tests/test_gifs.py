"""GIF renders: decodable, animated, looping, small, cached, deterministic, accessible."""

from __future__ import annotations

import io
import statistics
from pathlib import Path

from PIL import Image

from generator.site import gifs
from generator.site.builder import Paths, build
from tests.conftest import ROOT

KB = 1024


def built_gifs(out: Path) -> list[Path]:
    return sorted(out.rglob("*.gif"))


def test_every_passage_with_picks_has_a_looping_gif_within_budget(site_paths):
    build(site_paths)
    page = (site_paths.output / "essays" / "alpha" / "index.html").read_text()
    files = built_gifs(site_paths.output)
    # fixture alpha: two passages with picks, plus the essay overview
    assert len(files) == 3
    sizes = []
    for f in files:
        im = Image.open(f)
        assert im.format == "GIF" and im.is_animated and im.n_frames > 2
        assert im.info.get("loop") == 0  # loops forever
        assert f.with_suffix(".png").is_file() and Image.open(f.with_suffix(".png")).size == im.size
        assert f"gifs/{f.stem}.gif" in page
        sizes.append((f.stat().st_size, im.size))
    passage_sizes = [s for s, dims in sizes if dims == gifs.PASSAGE_SIZE]
    assert len(passage_sizes) == 2
    assert statistics.median(passage_sizes) <= 60 * KB and max(passage_sizes) <= 150 * KB
    assert all(s <= 500 * KB for s, dims in sizes if dims == gifs.OVERVIEW_SIZE)


def test_page_markup_lazy_sized_with_alt_and_reduced_motion_still(site_paths):
    build(site_paths)
    page = (site_paths.output / "essays" / "alpha" / "index.html").read_text()
    assert 'media="(prefers-reduced-motion: reduce)"' in page
    assert 'loading="lazy"' in page and 'width="640" height="360"' in page
    assert 'alt="Animation: passage 1 on a dark background' in page
    assert 'property="og:image"' in page and ".png" in page.split('property="og:image"')[1][:120]
    index = (site_paths.output / "index.html").read_text()
    assert 'width="1200" height="630"' in index


def test_second_build_renders_nothing_and_a_changed_pick_renders_two(site_paths):
    build(site_paths)
    before = gifs.renders
    (site_paths.content / "site.toml").write_text((site_paths.content / "site.toml").read_text() + "\n# touched\n")
    build(site_paths)  # the essay pages are re-rendered (config changed), but no GIF is drawn again
    assert gifs.renders == before
    picks = site_paths.content / "picks" / "alpha.toml"
    picks.write_text(picks.read_text().replace('  "r34265cfd:1:0",  # markup, must be escaped\n', ""))
    build(site_paths)
    assert gifs.renders == before + 2  # that passage and the overview


def test_same_input_same_bytes(exhibit, tmp_path):
    a = Paths(exhibit, tmp_path / "a" / "out", ROOT / "site_templates", ROOT)
    b = Paths(exhibit, tmp_path / "b" / "out", ROOT / "site_templates", ROOT)
    build(a)
    build(b)  # its own GIF cache: drawn afresh
    ga, gb = built_gifs(a.output), built_gifs(b.output)
    assert [p.name for p in ga] == [p.name for p in gb]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(ga, gb))


def test_font_has_every_character_in_content():
    chars = set()
    for root in (ROOT / "content", ROOT / "tests" / "fixtures"):
        for f in root.rglob("*"):
            if f.is_file() and f.suffix in (".md", ".json", ".toml"):
                chars |= set(f.read_text("utf-8"))
    chars |= set("—–“”‘’éèüñ→×…")
    # what auto-pick never takes (control characters, U+FFFD from a model's broken bytes) never reaches a GIF
    from generator.picks.auto import _CONTROL

    chars = {c for c in chars if not _CONTROL.match(c)}
    assert gifs.missing_glyphs("".join(chars)) == set()
    assert gifs.missing_glyphs("\ue000") == {"\ue000"}  # the check itself can fail


def test_gif_decodes_to_the_shared_palette():
    r = gifs.GifCache(None).passage("Rovers roll on. They are slow.", ["They roll on and on across the dust."], 6)
    im = Image.open(io.BytesIO(r.gif))
    colours = {tuple(im.getpalette()[i * 3 : i * 3 + 3]) for i in range(len(gifs.PALETTE))}
    assert colours == set(gifs.PALETTE) and len(gifs.PALETTE) == 7


def test_a_deferred_build_names_the_animations_and_draws_them_byte_for_byte_later(site_paths, tmp_path):
    """The studio's preview builds with defer_animations: the page is the published page,
    its animations are drawn on request, and a full build into the folder draws them all."""
    from generator.site.builder import Options

    published = Paths(site_paths.content, tmp_path / "published", site_paths.templates, site_paths.project)
    build(published)
    report = build(site_paths, Options(defer_animations=True))
    assert len(report.pending) == 3 and built_gifs(site_paths.output) == []
    page = (site_paths.output / "essays" / "alpha" / "index.html").read_text()
    assert page == (published.output / "essays" / "alpha" / "index.html").read_text()
    cache = gifs.GifCache(None)
    for name, (kind, payload) in report.pending.items():
        f = next((published.output / "essays" / "alpha" / "gifs").glob(f"{name}.gif"))
        assert cache.draw(kind, payload).gif == f.read_bytes()
    assert build(site_paths, Options(defer_animations=True)).pending == report.pending  # reused, still pending
    full = build(site_paths)
    assert full.pending == {} and full.essays_rendered == 1
    assert [f.read_bytes() for f in built_gifs(site_paths.output)] == [f.read_bytes() for f in built_gifs(published.output)]
