"""The studio's state: the essays, their sample caches and picks, and every decision.

One lock guards it, so the web server's threads take turns. Every file is
read again whenever it changed on disk (an editor, `generate`, `pick`), and
a decision is applied to the picks file as it is on disk at that moment,
never to an older copy: an edit the studio has not seen is never overwritten.
Picks are written by ``picks.commands.save_picks``, the writer ``pick`` uses.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..config import SiteConfig, load_config
from ..content.essays import Essay, EssayHeader, Passage, parse_essay
from ..content.layout import ContentLayout
from ..picks.auto import Assessment, assess, pick_passage
from ..picks.candidates import PickRef
from ..picks.commands import save_picks
from ..picks.resolve import VerbosifiedEssay, verbosify
from ..picks.store import PassagePicks, Picks, parse_picks
from ..samples.cache import SampleCache, load_cache

log = logging.getLogger(__name__)

ACTIONS = ("accept", "reject", "unpick", "up", "down", "clear", "auto")


class StudioError(Exception):
    """A request the studio will not carry out; nothing was written."""

    status = 400


class Conflict(StudioError):
    status = 409


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return None


@dataclass
class EssayState:
    """One essay's files as the studio last read them, and its undo history."""

    header: EssayHeader
    essay: Essay | None = None
    essay_sig: tuple | None = None
    cache: SampleCache | None = None
    cache_sig: tuple | None = ()
    cache_warning: str | None = None
    assessed: dict[str, dict[str, Assessment]] | None = None
    picks: Picks | None = None
    picks_text: str | None = None  # as last read or written; None when there is no file
    picks_read: bool = False
    picks_problem: str | None = None
    picks_warnings: list[str] = field(default_factory=list)
    undo: list[tuple[str, PassagePicks | None]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.header.slug

    def passage(self, key: str) -> Passage:
        for p in self.essay.passages:
            if p.key == key:
                return p
        raise StudioError(f"essay '{self.slug}' has no passage {key!r}")

    def verbosified(self, splitter: str) -> VerbosifiedEssay:
        return verbosify(self.essay, self.cache, self.picks or Picks(self.slug), splitter)


@dataclass(frozen=True)
class Decision:
    slug: str
    passage: str  # key
    notices: tuple[str, ...]  # the picks file changed outside the studio: the page reloads
    message: str = ""


class Studio:
    def __init__(self, content: Path, *, ratio: float = 2.0):
        self.layout = ContentLayout(content)
        self.ratio = ratio
        self.config: SiteConfig = load_config(self.layout.site_toml)
        self.lock = threading.RLock()
        self.version = 0  # bumped by every write of a picks file
        self._states: dict[str, EssayState] = {}

    # -- reading -------------------------------------------------------------

    def headers(self) -> list[EssayHeader]:
        return self.layout.essays(drafts=True)

    def essays(self) -> list[EssayState]:
        with self.lock:
            return [self.essay(h.slug, h) for h in self.headers()]

    def essay(self, slug: str, header: EssayHeader | None = None) -> EssayState:
        """The essay named ``slug``, every file re-read that changed since the last look."""
        with self.lock:
            state = self._states.get(slug)
            if state is None or _signature(state.header.path) is None:
                header = header or next((h for h in self.headers() if h.slug == slug), None)
                if header is None:
                    raise StudioError(f"there is no essay {slug!r}")
                state = self._states[slug] = EssayState(header)
            self._refresh(state)
            return state

    def _refresh(self, s: EssayState) -> None:
        sig = _signature(s.header.path)
        if sig != s.essay_sig:
            s.essay = parse_essay(s.header.path, passage_size=self.config.passage_size, splitter=self.config.sentence_splitter)
            s.essay_sig, s.assessed = sig, None
        path = self.layout.samples(s.slug)
        sig = _signature(path)
        if sig != s.cache_sig:
            s.cache, s.cache_warning = load_cache(path, s.slug)
            s.cache_sig, s.assessed = sig, None
        if s.assessed is None:
            s.assessed = {key: {str(a.candidate.ref): a for a in items} for key, items in assess(s.essay, s.cache, self.config.sentence_splitter).items()}
        self._refresh_picks(s)

    def _refresh_picks(self, s: EssayState) -> None:
        path = self.layout.picks(s.slug)
        text = _read(path)
        if s.picks_read and text == s.picks_text:
            return
        first, s.picks_read, s.picks_text = not s.picks_read, True, text
        try:
            s.picks, s.picks_warnings = parse_picks(text, s.slug, path) if text is not None else (Picks(s.slug), [])
            s.picks_problem = None
        except (ValueError, UnicodeDecodeError) as exc:  # tomllib's TOMLDecodeError is a ValueError
            s.picks_problem = f"{path} cannot be read ({exc}); fix it in your editor: the studio changes nothing until then"
        if not first:
            s.undo.clear()
            s.notices.append(f"{path.name} changed outside the studio: reloaded it (undo starts afresh)")
            log.info("%s changed on disk; reloaded", path)

    # -- deciding ------------------------------------------------------------

    def decide(self, slug: str, action: str, key: str, candidate: str | None = None) -> Decision:
        if action not in ACTIONS:
            raise StudioError(f"unknown action {action!r} (one of: {', '.join(ACTIONS)})")
        with self.lock:
            s = self.essay(slug)
            passage = s.passage(key)
            ref = self._ref(s, key, candidate) if action in ("accept", "reject", "unpick", "up", "down") else None
            self._writable(s)
            old = s.picks.passages.get(key)
            entry = self._apply(s, action, passage, ref, copy.deepcopy(old) if old else PassagePicks(key))
            self._write(s, key, entry)
            s.undo.append((key, old))
            message = "auto-pick found nothing usable in this passage" if action == "auto" and not entry.refs else ""
            return Decision(slug, key, self._take_notices(s), message)

    def undo(self, slug: str) -> Decision | None:
        """Take the last decision back (None when there is none)."""
        with self.lock:
            s = self.essay(slug)
            self._writable(s)
            if not s.undo:
                return None
            key, old = s.undo.pop()
            self._write(s, key, old)
            return Decision(slug, key, self._take_notices(s))

    def _take_notices(self, s: EssayState) -> tuple[str, ...]:
        notices, s.notices = tuple(s.notices), []
        return notices

    def take_notices(self, slug: str) -> tuple[str, ...]:
        with self.lock:
            return self._take_notices(self.essay(slug))

    def _writable(self, s: EssayState) -> None:
        if s.picks_problem:
            raise Conflict(s.picks_problem)

    def _ref(self, s: EssayState, key: str, text: str | None) -> PickRef:
        if not text:
            raise StudioError("no candidate given")
        try:
            ref = PickRef.parse(text)
        except ValueError as exc:
            raise StudioError(str(exc)) from None
        entry = s.picks.passages.get(key)
        known = set(s.assessed.get(key, {})) | ({str(r) for r in entry.refs + entry.rejected} if entry else set())
        if str(ref) not in known:
            raise StudioError(f"passage {key} has no candidate {str(ref)!r}")
        return ref

    def _apply(self, s: EssayState, action: str, passage: Passage, ref: PickRef | None, entry: PassagePicks) -> PassagePicks:
        if action == "auto":
            return pick_passage(s.essay, s.cache, s.picks, passage.key, ratio=self.ratio, splitter=self.config.sentence_splitter)
        entry.auto = False  # the artist's now: `pick` leaves it alone
        if action == "clear":
            entry.refs = []
            return entry
        name = str(ref)
        picked = [str(r) for r in entry.refs]
        if action in ("up", "down"):
            if name not in picked:
                raise StudioError(f"{name} is not picked, so it cannot move")
            i = picked.index(name)
            j = i - 1 if action == "up" else i + 1
            if 0 <= j < len(entry.refs):
                entry.refs[i], entry.refs[j] = entry.refs[j], entry.refs[i]
            return entry
        entry.refs = [r for r in entry.refs if str(r) != name]
        entry.rejected = [r for r in entry.rejected if str(r) != name]
        if action == "accept":
            entry.refs.append(ref)
        elif action == "reject":
            entry.rejected.append(ref)
        return entry

    def _write(self, s: EssayState, key: str, entry: PassagePicks | None) -> None:
        """Write the picks file with ``key``'s entry replaced, unless it changed on disk since
        the studio last read it: then the change is refused and the file reloaded."""
        path = self.layout.picks(s.slug)
        if _read(path) != s.picks_text:
            self._refresh_picks(s)
            raise Conflict(f"{path.name} changed on disk just now; the studio reloaded it, nothing was written: decide again")
        picks = Picks(s.slug, dict(s.picks.passages))
        if entry is None or (not entry.refs and not entry.rejected and entry.auto):
            picks.passages.pop(key, None)
        else:
            picks.passages[key] = entry
        save_picks(self.layout, self.config, s.essay, s.cache, picks)
        s.picks, s.picks_text = picks, _read(path)
        self.version += 1

