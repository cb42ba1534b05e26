#!/usr/bin/env python3
"""A novel through the site and the book (issue 28): page sizes, build and book times, epubcheck.

    python bench/novel.py [--passages 1464] [--chapters 20]

Builds bench/.work/novel/: one essay of ``--passages`` three-sentence passages (about 50,000 words
at the default) under ``--chapters`` ``##`` headings, each passage with one run of 10 real-sized
samples (the committed exhibit's own, the demo model's, cycled: only their size matters here),
recorded through ``samples.record`` as ``generate`` records them, and picks made by the real
``python build.py pick``. Then times ``python build.py`` and ``python build.py book`` and reports
every page's size and the books'.

Measured on 2026-12-06, 2 cores (Intel Xeon), 1,464 passages, 20 headings:

| passages | 1,464 (52,700 words) |
|---|---|
| pick (auto-pick, every passage) | 5.0 s (134.8 s before near copies were looked up by word) |
| build, first (every animation drawn) | 6.3 s |
| build, nothing changed | 0.2 s |
| book (EPUB and PDF, with the site) | 2.1 s |
| pages: contents, then 20 chapters | contents 4 kB; chapters 396-454 kB (73 passages each) |
| EPUB | 0.10 MB, epubcheck: 0 fatals / 0 errors / 0 warnings / 0 infos |
| PDF | 1.07 MB, 289 pages |

The samples are the exhibit's, given to passages of random words, so auto-pick finds few of
them on topic: 75 passages gained sentences. Page sizes come from the samples every passage
carries, which are real-sized here.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / ".work" / "novel"
WORDS = ("rover wheel dust crater signal orbit camera drill sample engineer sol planet mast antenna battery panel terrain slope "
         "rock laser spectrum map path hazard night morning team mission ridge plain wind storm light").split()


def make(folder: Path, passages: int, chapters: int) -> None:
    from generator.content.essays import parse_essay
    from generator.content.layout import ContentLayout
    from generator.samples.cache import Params, Run
    from generator.samples.record import record
    from generator.samples.store import load_cache

    project = ContentLayout(ROOT / "content")
    pool = [s for h in project.essays() for e in load_cache(project.samples(h.slug), h.slug)[0].passages.values() for r in e.runs for s in r.samples]
    if folder.exists():
        shutil.rmtree(folder)
    layout = ContentLayout(folder)
    layout.essays_dir.mkdir(parents=True)
    shutil.copy(project.site_toml, layout.site_toml)
    rng = random.Random(2019)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."

    parts = []
    for i in range(passages):
        if i % max(1, passages // chapters) == 0 and len([p for p in parts if p.startswith("## ")]) < chapters:
            parts.append(f"## Chapter {len([p for p in parts if p.startswith('## ')]) + 1}")
        parts.append(" ".join(sentence() for _ in range(3)))
    (layout.essays_dir / "novel.md").write_text("Title: A Novel, Verbosified\n\n" + "\n\n".join(parts) + "\n")
    essay = parse_essay(layout.essays_dir / "novel.md")
    params = Params(0.8, 30, 100, 2019, 1, 1e-4)
    for p in essay.passages:
        samples = tuple(pool[(p.index * 10 + k) % len(pool)] for k in range(10))
        record(layout.samples("novel"), "novel", p, [Run("demo", "sha256:4d7eedb9c917fdc2", "fast", params, samples, engine=3)])


def timed(*args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "build.py", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=1464)
    ap.add_argument("--chapters", type=int, default=20)
    args = ap.parse_args()
    content, out = WORK / "content", WORK / "output"
    make(content, args.passages, args.chapters)
    from generator.site import writer

    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(writer.gif_cache_dir(out), ignore_errors=True)  # the first build draws every animation
    writer.manifest_path(out).unlink(missing_ok=True)
    pick = timed("pick", "--content", str(content), "-q")
    build = timed("--content", str(content), "--output", str(out), "-q")
    again = timed("--content", str(content), "--output", str(out), "-q")
    book = timed("book", "--content", str(content), "--output", str(out), "-q")
    pages = sorted((p for p in (out / "essays/novel").rglob("index.html")), key=lambda p: len(p.parts))  # the site's, not content/
    sizes = [p.stat().st_size for p in pages]
    epub, pdf = out / "book" / "novel.epub", out / "book" / "novel.pdf"
    check = subprocess.run(["java", "-jar", "/usr/share/java/epubcheck.jar", str(epub)], capture_output=True, text=True)
    verdict = next((line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Messages:")), "epubcheck said nothing")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pdf_pages = next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "?")
    print(f"| passages | {args.passages:,} |")
    print("|---|---|")
    print(f"| pick (auto-pick, every passage) | {pick:.1f} s |")
    print(f"| build, first (every animation drawn) | {build:.1f} s |")
    print(f"| build, nothing changed | {again:.1f} s |")
    print(f"| book (EPUB and PDF, with the site) | {book:.1f} s |")
    print(f"| pages: contents, then {len(pages) - 1} chapters | contents {sizes[0] / 1e3:.0f} kB; chapters {min(sizes[1:]) / 1e3:.0f}-{max(sizes[1:]) / 1e3:.0f} kB |")
    print(f"| EPUB | {epub.stat().st_size / 1e6:.2f} MB, epubcheck: {verdict} |")
    print(f"| PDF | {pdf.stat().st_size / 1e6:.2f} MB, {pdf_pages} pages |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
