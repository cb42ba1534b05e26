"""The studio's state: the essays, their sample caches and picks, and every decision.

One lock guards the state in memory, held only while it is read or changed there:
never while a thread waits for a file's lock, renders a page, writes the undo
journal or starts a worker, so every page answers while ``pick`` holds a picks
file. A page works on a snapshot (``view``): a refresh replaces the state's
objects and never changes them in place. Writers of one essay's picks file take
turns on that essay's own ``writer`` lock, outside the studio's. Every file is
read again whenever it changed on disk (an editor, `generate`, `pick`). A
decision is a compare-and-swap (``picks.writes.update_picks``): under the
file's lock it is applied to the picks file as it is at that moment, never
to an older copy, so an edit the studio has not seen is never overwritten;
and the text the studio wrote is the text it keeps. The file is rendered by
``picks.commands.picks_text``, as ``pick`` renders it. Undo writes back the
bytes a decision replaced, from a journal that survives a restart.
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
from ..errors import InputError
from ..picks.commands import picks_text
from ..picks.resolve import VerbosifiedEssay, verbosify
from ..picks.store import PassagePicks, Picks, parse_picks
from ..samples.cache import SampleCache
from ..samples.store import load_cache, signature as samples_signature
from ..locking import LockTimeout, read_text
from ..picks.writes import REMOVE, update_picks
from .journal import Journal, Step

log = logging.getLogger(__name__)

ACTIONS = ("accept", "reject", "unpick", "up", "down", "clear", "auto")


class StudioError(Exception):
    """A request the studio will not carry out; nothing was written."""

    status = 400


class Conflict(StudioError):
    status = 409


class Busy(StudioError):
    """Another writer held the file's lock too long; nothing was written."""

    status = 503


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


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
    undo: Journal | None = None
    notices: list[str] = field(default_factory=list)
    writer: threading.Lock = field(default_factory=threading.Lock)  # this process's writers of the picks file take turns
    writing: bool = False  # a write of the picks file is under way: a refresh leaves the picks to it

    def snapshot(self) -> EssayState:
        """The state as it is now, for reading without the studio's lock: a refresh gives the
        state new objects, so those this copy holds stay as they are."""
        return copy.copy(self)

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
    def __init__(self, content: Path, *, ratio: float = 2.0, journal: Path | None = None):
        self.layout = ContentLayout(content)
        self.journal = journal  # where undo histories are kept (None: in memory only)
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

    def view(self, slug: str) -> EssayState:
        """A snapshot of the essay, every file re-read that changed, to render without the lock."""
        with self.lock:
            s = self.essay(slug)
            snap = s.snapshot()
        s.undo.flush()
        return snap

    def views(self) -> list[EssayState]:
        with self.lock:
            states = self.essays()
            snaps = [s.snapshot() for s in states]
        for s in states:
            s.undo.flush()
        return snaps

    def essay(self, slug: str, header: EssayHeader | None = None) -> EssayState:
        """The essay named ``slug``, every file re-read that changed since the last look."""
        with self.lock:
            state = self._states.get(slug)
            if state is None or _signature(state.header.path) is None:
                header = header or next((h for h in self.headers() if h.slug == slug), None)
                if header is None:
                    raise StudioError(f"there is no essay {slug!r}")
                old = state  # an editor that deletes and writes the file again: its writers and undo steps go on
                state = self._states[slug] = EssayState(header, undo=old.undo if old else Journal(self.journal, self.layout.root, header.slug),
                                                        **({"writer": old.writer} if old else {}))
            self._refresh(state)
            return state

    def _refresh(self, s: EssayState) -> None:
        sig = _signature(s.header.path)
        if sig != s.essay_sig:
            s.essay = parse_essay(s.header.path, passage_size=self.config.passage_size, splitter=self.config.sentence_splitter)
            s.essay_sig, s.assessed = sig, None
        path = self.layout.samples(s.slug)
        sig = samples_signature(path)
        if sig != s.cache_sig:
            s.cache, s.cache_warning = load_cache(path, s.slug)
            s.cache_sig, s.assessed = sig, None
        if s.assessed is None:
            s.assessed = {key: {str(a.candidate.ref): a for a in items} for key, items in assess(s.essay, s.cache, self.config.sentence_splitter).items()}
        self._refresh_picks(s)

    def _refresh_picks(self, s: EssayState) -> None:
        if s.writing:  # the writer takes the file as it leaves it, and says if it had changed
            return
        path = self.layout.picks(s.slug)
        try:
            text = read_text(path)
        except InputError as exc:  # not UTF-8, or not readable
            s.picks_problem = f"{exc}; the studio changes nothing until then"
            s.picks_read, s.picks_text = True, "\0"  # never equal to a real read
            return
        if s.picks_read and text == s.picks_text:
            return
        first, s.picks_read = not s.picks_read, True
        self._take_text(s, text)
        if first:
            s.undo.load(text)
        else:
            s.undo.clear()
            s.notices.append(f"{path.name} changed outside the studio: reloaded it (undo starts afresh)")
            log.info("%s changed on disk; reloaded", path)

    def _take_text(self, s: EssayState, text: str | None) -> None:
        """Make ``text`` the picks file as the studio knows it."""
        s.picks_text = text
        try:
            s.picks, s.picks_warnings = self._parse(s, text)
            s.picks_problem = None
        except Conflict as exc:
            s.picks_problem = str(exc)

    def _parse(self, s: EssayState, text: str | None) -> tuple[Picks, list[str]]:
        path = self.layout.picks(s.slug)
        if text is None:
            return Picks(s.slug), []
        try:
            return parse_picks(text, s.slug, path)
        except (ValueError, UnicodeDecodeError) as exc:  # tomllib's TOMLDecodeError is a ValueError
            raise Conflict(f"{path} cannot be read ({exc}); fix it in your editor: the studio changes nothing until then") from None

    # -- deciding ------------------------------------------------------------

    def decide(self, slug: str, action: str, key: str, candidate: str | None = None) -> Decision:
        if action not in ACTIONS:
            raise StudioError(f"unknown action {action!r} (one of: {', '.join(ACTIONS)})")
        with self.essay_writer(slug):
            with self.lock:
                s = self.essay(slug)
                passage = s.passage(key)
                self._writable(s)
                ref = self._ref(s, key, candidate) if action in ("accept", "reject", "unpick", "up", "down") else None
                snap = s.snapshot()
                s.writing = True  # from the snapshot on: a refresh now leaves the picks (and the undo steps) to this writer
            try:
                entry = self._write(s, snap, key, lambda picks, old: self._apply(snap, action, passage, ref, picks, old))
            finally:
                with self.lock:
                    s.writing = False
            s.undo.flush()
            message = "auto-pick found nothing usable in this passage" if action == "auto" and (entry is None or not entry.refs) else ""
            with self.lock:
                return Decision(slug, key, self._take_notices(s), message)

    def essay_writer(self, slug: str) -> threading.Lock:
        """The lock this process's writers of ``slug``'s picks file take turns on (never the studio's)."""
        with self.lock:
            return self.essay(slug).writer

    def undo(self, slug: str) -> Decision | None:
        """Take the last decision back (None when there is none): the picks file's bytes as
        they were before it, or, when the file changed since, the passage's entry as it was."""
        with self.essay_writer(slug):
            with self.lock:
                s = self.essay(slug)
                self._writable(s)
                if not s.undo:
                    return None
                step = s.undo.steps[-1]
                snap = s.snapshot()
                s.writing = True  # from the snapshot on: a refresh now leaves the picks (and the undo steps) to this writer
            path = self.layout.picks(s.slug)

            def change(text: str | None):
                if text == step.after:
                    return REMOVE if step.before is None else step.before
                picks, _ = self._parse(snap, text)
                return self._render(snap, text, self._with(picks, step.key, step.old))

            try:
                w = self._transact(path, change, snap.picks_text)
                with self.lock:
                    self.version += 1
                    if s.undo and s.undo.steps[-1] is step:
                        s.undo.pop()
                    if w.moved:
                        s.undo.clear()
                        s.notices.append(f"{path.name} changed outside the studio: the undo was applied to it (undo starts afresh)")
                    self._take_text(s, w.text)
                    decision = Decision(slug, step.key, self._take_notices(s))
            finally:
                with self.lock:
                    s.writing = False
            s.undo.flush()
            return decision

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

    def _apply(self, s: EssayState, action: str, passage: Passage, ref: PickRef | None, picks: Picks, entry: PassagePicks) -> PassagePicks:
        if action == "auto":
            return pick_passage(s.essay, s.cache, picks, passage.key, ratio=self.ratio, splitter=self.config.sentence_splitter)
        if action == "clear":
            entry.refs = []
            entry.auto = False  # the artist's now: `pick` leaves it alone
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
            entry.auto = False
            return entry
        if (action == "accept" and name in picked) or (action == "reject" and name in {str(r) for r in entry.rejected}):
            return entry  # already so (a key pressed twice): nothing changes, nothing moves
        entry.auto = False
        entry.refs = [r for r in entry.refs if str(r) != name]
        entry.rejected = [r for r in entry.rejected if str(r) != name]
        if action == "accept":
            entry.refs.append(ref)
        elif action == "reject":
            entry.rejected.append(ref)
        return entry

    @staticmethod
    def _with(picks: Picks, key: str, entry: PassagePicks | None) -> Picks:
        """``picks`` with ``key``'s entry replaced (an empty automatic one, or None, removed)."""
        out = Picks(picks.slug, dict(picks.passages))
        if entry is None or (not entry.refs and not entry.rejected and entry.auto):
            out.passages.pop(key, None)
        else:
            out.passages[key] = entry
        return out

    def _render(self, s: EssayState, text: str | None, picks: Picks) -> str:
        return picks_text(text, self.config, s.essay, s.cache, picks)

    def _write(self, s: EssayState, snap: EssayState, key: str, decide) -> PassagePicks | None:
        """One decision as a compare-and-swap: under the file's lock, ``decide(picks, entry)``
        is applied to the picks file as it is then. When it is not what the studio last
        read (an editor saved it), the decision is applied to that text, and the page is
        told. Nothing is written, and no undo step kept, when the decision changes nothing.
        Called with the essay's writer lock, not the studio's: ``snap`` is what it reads."""
        path = self.layout.picks(s.slug)
        olds: list[PassagePicks | None] = []

        def change(text: str | None):
            picks = snap.picks if text == snap.picks_text else self._parse(snap, text)[0]
            old = picks.passages.get(key)
            olds.append(old)
            entry = decide(picks, copy.deepcopy(old) if old else PassagePicks(key))
            new = self._with(picks, key, entry)
            if new.passages.get(key) == old:
                return None
            return self._render(snap, text, new)

        w = self._transact(path, change, snap.picks_text)
        with self.lock:
            if w.moved:
                s.undo.clear()
                s.notices.append(f"{path.name} changed outside the studio: your decision was applied to it (undo starts afresh)")
                log.info("%s changed on disk; the decision was applied to it", path)
            self._take_text(s, w.text)
            if w.changed:
                self.version += 1
                s.undo.push(Step(key, olds[-1], w.before, w.text))
            return s.picks.passages.get(key)

    @staticmethod
    def _transact(path: Path, change, read: str | None):
        """``update_picks`` with its refusals in the studio's terms: 503 for a lock held too
        long, 409 for a file that cannot be read. Nothing was written either way."""
        try:
            return update_picks(path, change, read=read)
        except LockTimeout as exc:
            raise Busy(str(exc)) from None
        except InputError as exc:
            raise Conflict(str(exc)) from None
