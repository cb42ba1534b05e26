"""The content folder: every path into it, and the one rule for listing essays.

    content/
      site.toml
      essays/<file>.md            one essay; its slug is ``Slug:`` or the file name
      samples/<slug>.passages/    the sample store: a file per passage (samples/store.py;
                                  samples/<slug>.json, the one file before it, is still read)
      samples/explore/<slug>.json the technical exploration
      picks/<slug>.toml           the curation
      <file named by site.toml>   the station's blocklist ([station] blocklist)

Every stage asks this object, so drafts, slugs and ``check`` change how essays
are found in one place (Pelican's single settings object is the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .essays import EssayHeader, read_header


@dataclass(frozen=True)
class ContentLayout:
    root: Path

    @property
    def site_toml(self) -> Path:
        return self.root / "site.toml"

    @property
    def essays_dir(self) -> Path:
        return self.root / "essays"

    @property
    def explore_dir(self) -> Path:
        return self.root / "samples" / "explore"

    def samples(self, slug: str) -> Path:
        """The essay's sample store: read with ``samples.store.load_cache``, written with ``samples.record``."""
        return self.root / "samples" / f"{slug}.passages"

    def picks(self, slug: str) -> Path:
        return self.root / "picks" / f"{slug}.toml"

    def explore(self, slug: str) -> Path:
        return self.explore_dir / f"{slug}.json"

    def explore_files(self) -> list[Path]:
        return sorted(self.explore_dir.glob("*.json"))

    def content_file(self, name: str, key: str) -> Path:
        """A file site.toml names by ``key`` (the station's blocklist), which must lie inside the content folder."""
        path = (self.root / name).resolve()
        if not name or Path(name).is_absolute() or not path.is_relative_to(self.root.resolve()):
            raise InputError(self.site_toml, f"{key} must name a file inside {self.root}, got {name!r}")
        return path

    def essay_paths(self) -> list[Path]:
        return sorted(self.essays_dir.glob("*.md"))

    def essays(self, *, drafts: bool = True, only: list[str] | None = None) -> list[EssayHeader]:
        """Every essay (by file name), drafts left out unless ``drafts``; ``only``
        picks slugs, each of which must exist. Two essays with one slug are an error."""
        folder = self.essays_dir
        headers = [read_header(p) for p in self.essay_paths()]
        seen: dict[str, Path] = {}
        for h in headers:
            if h.slug in seen:
                raise InputError(h.path, f"slug {h.slug!r} is also the slug of {seen[h.slug]}: two essays cannot share a URL")
            seen[h.slug] = h.path
        if only:
            missing = [s for s in only if s not in seen]
            if missing:
                raise InputError(folder, f"no essay named {', '.join(missing)} (there are: {', '.join(seen) or 'none'})")
            headers = [h for h in headers if h.slug in only]
        elif not drafts:
            headers = [h for h in headers if not h.draft]
        if not headers:
            raise InputError(folder, "no essays found (expected *.md files)" if not seen else "every essay is a draft (Status: draft); use --drafts to build them")
        return headers
