#!/usr/bin/env python3
"""Site-build benchmark: a synthetic exhibit, timed against Pelican.

    python bench/site.py [--sizes 50 200] [--no-pelican]

Our build runs in bench/.work/site-venv, which holds only the site's packages
(the `# site` lines of requirements.txt, as the Pages deploy installs them).
For each size: essays of 40 passages (20 paragraphs of 6 sentences), built
with and without cached samples and picks (10 samples per passage, 2 picked
sentences). Each build runs `python build.py` as a fresh process (start-up
counts): cold, rebuilt with nothing changed, rebuilt after editing one essay.
Pelican (default theme, feeds off, relative URLs), installed into
bench/.work/pelican-venv from PyPI if missing, builds the same essays cold.
Cold builds of both tools alternate --repeat times and the medians are
compared (ours/Pelican). On 2026-11-28, two runs: 0.98 and 0.99 at 50
essays, 0.97 and 0.96 at 200 (ours 0.43 s and 0.94-0.96 s, Pelican 0.43 s
and 0.98-1.00 s). On 2026-12-05 (Intel Xeon, 2 cores), with sentences found in
the rendered text: 1.26 at 50 (0.51 s against 0.40 s) and 1.35 at 200 (1.24 s
against 0.92 s); the commit before, run just after: 1.21 and 1.25 (0.49 s and 1.21 s). Prints wall seconds and peak RSS per build. GIF rendering is switched off
here (`gifs = false`); bench/gifs.py measures it.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
sys.path.insert(0, str(ROOT))
from generator.content.layout import ContentLayout  # noqa: E402

WORDS = (
    "rover wheel dust crater signal orbit camera drill sample engineer sol planet mast antenna "
    "battery panel terrain slope rock laser spectrum map path hazard night morning team mission"
).split()

# Runs a command and reports its own peak RSS (KiB) on the last line of stderr.
TIMER = (
    "import resource, runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "else:\n"
    "    code = 0\n"
    "print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
    return " ".join(words).capitalize() + "."


def make_exhibit(folder: Path, essays: int, with_samples: bool, seed: int = 1) -> None:
    from generator.content.essays import parse_essay
    from generator.picks.candidates import PickRef
    from generator.picks.store import PassagePicks, Picks, dump_picks
    from generator.samples import store
    from generator.samples.cache import Params, PassageSamples, Run, SampleCache, dump_cache

    rng = random.Random(seed)
    if folder.exists():
        shutil.rmtree(folder)
    layout = ContentLayout(folder)
    for sub in (layout.essays_dir, layout.samples("x").parent, layout.picks("x").parent):
        sub.mkdir(parents=True)
    # GIFs (about 0.3 s per passage with picks) are measured by bench/gifs.py.
    layout.site_toml.write_text('title = "Bench"\ngifs = false\n')
    params = Params(0.8, 30, 100, 1, 1, 1e-4)
    for n in range(essays):
        paragraphs = [" ".join(sentence(rng) for _ in range(6)) for _ in range(20)]
        body = f"Title: Essay {n}\nDate: 2026-01-01\nOrder: {n}\n\n## Part one\n\n" + "\n\n".join(paragraphs) + "\n"
        path = layout.essays_dir / f"essay-{n:03d}.md"
        path.write_text(body)
        if not with_samples:
            continue
        essay = parse_essay(path)
        cache, picks = SampleCache(path.stem), Picks(path.stem)
        for p in essay.passages:
            run = Run("bench", "synthetic", "fast", params, tuple(" " + " ".join(sentence(rng) for _ in range(4)) for _ in range(10)))
            cache.passages[p.key] = PassageSamples(p.text, [run])
            picks.passages[p.key] = PassagePicks(p.key, [PickRef(run.id, 0, 0), PickRef(run.id, 1, 1)], auto=True)
        store.legacy_file(layout.samples(path.stem)).write_text(dump_cache(cache))  # one file, then a file a passage:
        store.convert(layout.samples(path.stem), path.stem)  # the store as generate leaves it
        layout.picks(path.stem).write_text(dump_picks(picks, title=essay.title, passages={}, sentences={}))


def timed(cmd: list[str], cwd: Path, python: str = sys.executable) -> tuple[float, int]:
    start = time.perf_counter()
    r = subprocess.run([python, "-c", TIMER, *cmd], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    rss = int(r.stderr.strip().splitlines()[-1].split()[1])
    return seconds, rss


def site_python() -> str:
    """A venv with only the site's packages (what the Pages deploy installs), so
    that both generators are timed in an environment of their own."""
    venv = WORK / "site-venv"
    exe = venv / "bin" / "python"
    if not exe.exists():
        print("installing the site's packages into", venv, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if re.match(r"[^#].*#.*\bsite\b", line)]
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *lines], check=True)
    return str(exe)


def ours(content: Path, output: Path) -> tuple[float, int]:
    return timed([str(ROOT / "build.py"), "build", "--content", str(content), "--output", str(output), "-q"], ROOT, site_python())


def pelican_available() -> Path | None:
    venv = WORK / "pelican-venv"
    exe = venv / "bin" / "pelican"
    if not exe.exists():
        print("installing Pelican 4.12 into", venv, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "pelican[markdown]==4.12.0"])
        if r.returncode != 0:
            return None
    return exe


def pelican(exe: Path, content: Path, output: Path) -> tuple[float, int]:
    conf = content.parent / "pelicanconf.py"
    conf.write_text(
        "AUTHOR = 'bench'\nSITENAME = 'Bench'\nTIMEZONE = 'UTC'\nDEFAULT_LANG = 'en'\nRELATIVE_URLS = True\n"
        "FEED_ALL_ATOM = None\nCATEGORY_FEED_ATOM = None\nTRANSLATION_FEED_ATOM = None\nAUTHOR_FEED_ATOM = None\nAUTHOR_FEED_RSS = None\n"
        "DELETE_OUTPUT_DIRECTORY = True\nCACHE_CONTENT = False\nLOAD_CONTENT_CACHE = False\n"
    )
    if output.exists():
        shutil.rmtree(output)
    start = time.perf_counter()
    r = subprocess.run(
        [str(exe.parent / "python"), "-c", TIMER, str(exe), str(ContentLayout(content).essays_dir), "-o", str(output), "-s", str(conf), "-q"],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"pelican failed:\n{r.stderr[-2000:]}")
    return seconds, int(r.stderr.strip().splitlines()[-1].split()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--no-pelican", action="store_true")
    ap.add_argument("--repeat", type=int, default=5, help="cold builds per tool and size; the median is reported (default: %(default)s)")
    args = ap.parse_args()
    exe = None if args.no_pelican else pelican_available()
    # Warm-up: both tools once on a tiny exhibit, so byte-code compilation is not timed.
    warm = WORK / "warm-up" / "content"
    make_exhibit(warm, 1, False)
    shutil.rmtree(warm.parent / "output", ignore_errors=True)
    ours(warm, warm.parent / "output")
    if exe:
        pelican(exe, warm, warm.parent / "pelican-output")
    rows = []
    for size in args.sizes:
        for with_samples in (False, True):
            label = f"{size} essays × 40 passages, {'with' if with_samples else 'no'} samples"
            content = WORK / f"exhibit-{size}-{int(with_samples)}" / "content"
            out = content.parent / "output"
            make_exhibit(content, size, with_samples)
            colds, pelicans = [], []
            for _ in range(args.repeat):  # alternated, so both see the same machine; the median is kept
                if out.exists():
                    shutil.rmtree(out)
                shutil.rmtree(content.parent / ".vsr-cache", ignore_errors=True)
                colds.append(ours(content, out))
                if exe and not with_samples:
                    pelicans.append(pelican(exe, content, content.parent / "pelican-output"))
            cold = sorted(colds)[len(colds) // 2]
            noop = ours(content, out)
            first = ContentLayout(content).essays_dir / "essay-000.md"
            first.write_text(first.read_text().replace("## Part one", "## Part one, edited"))
            edit = ours(content, out)
            row = {"case": label, "cold": cold, "noop": noop, "edit": edit}
            if pelicans:
                row["pelican"] = sorted(pelicans)[len(pelicans) // 2]
            rows.append(row)
            msg = f"{label}: cold {cold[0]:.2f} s ({cold[1] / 1024:.0f} MB), nothing changed {noop[0]:.2f} s ({noop[0] / cold[0]:.0%} of cold), one essay edited {edit[0]:.2f} s"
            if "pelican" in row:
                msg += f"; Pelican cold {row['pelican'][0]:.2f} s ({row['pelican'][1] / 1024:.0f} MB); ours/Pelican {cold[0] / row['pelican'][0]:.2f}"
            print(msg, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
