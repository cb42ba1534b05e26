"""content/picks/<slug>.toml: the human-editable curation file.

    [[passage]]
    key = "3f2a9c1b0d4e"
    # > The passage's first words ...
    auto = true
    picks = [
      "r1a2b3c4d:4:0@9f3a1c",  # preview of the picked sentence
    ]
    rejected = [                 # optional: candidates the artist turned down
      "r1a2b3c4d:2:1@07be44",    # (in the studio); auto-pick never takes them
    ]

Each pick is RUN:SAMPLE:SENTENCE into content/samples/<slug>.passages/, with
@CHECK (a hash of the sentence's text) when the tools wrote it. Entries
with ``auto = true`` were chosen by ``python build.py pick``; any other entry
is the artist's and auto-pick leaves it alone.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .candidates import PickRef, sentence_check

@dataclass
class PassagePicks:
    key: str
    refs: list[PickRef] = field(default_factory=list)
    auto: bool = False
    rejected: list[PickRef] = field(default_factory=list)

@dataclass
class Picks:
    slug: str
    passages: dict[str, PassagePicks] = field(default_factory=dict)

def _line_of(text: str, needle: str) -> int | None:
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else None

def parse_picks(text: str, slug: str, path: Path) -> tuple[Picks, list[str]]:
    """Parse a picks file; problems in single entries are warnings, not errors."""
    data = tomllib.loads(text)
    picks = Picks(slug)
    warnings: list[str] = []
    entries = data.get("passage", [])
    if not isinstance(entries, list):
        raise ValueError("'passage' must be an array of tables ([[passage]])")
    for entry in entries:
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str):
            warnings.append(f"{path}: a [[passage]] entry has no key; skipped")
            continue
        lists: dict[str, list[PickRef]] = {"picks": [], "rejected": []}
        for name, refs in lists.items():
            raw = entry.get(name, [])
            for item in raw if isinstance(raw, list) else [raw]:
                try:
                    refs.append(PickRef.parse(str(item)))
                except ValueError as exc:
                    line = _line_of(text, str(item))
                    warnings.append(f"{path}:{line}: {exc}; skipped" if line else f"{path}: {exc}; skipped")
        picks.passages[key] = PassagePicks(key, lists["picks"], bool(entry.get("auto", False)), lists["rejected"])
    return picks, warnings

def load_picks(path: Path, slug: str) -> tuple[Picks, list[str]]:
    if not path.exists():
        return Picks(slug), []
    try:
        return parse_picks(path.read_text("utf-8"), slug, path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
        return Picks(slug), [f"{path}: unreadable picks file, its picks are not shown ({exc})"]

def _preview(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"

def dump_picks(picks: Picks, *, title: str, passages: dict[str, str], sentences: dict[tuple[str, str], str]) -> str:
    """Serialize picks in essay order; ``passages`` maps key -> text (for the
    preview comment), ``sentences`` maps (key, ref) -> picked text."""
    lines = [
        f"# Picks for {json.dumps(title, ensure_ascii=False)}: generated sentences inserted after each passage.",
        "# Each pick is RUN:SAMPLE:SENTENCE@CHECK in the sample cache of the same name (CHECK hashes the sentence); comments preview it.",
        "# Entries with auto = true belong to `python build.py pick`; delete that line to make an entry yours.",
    ]
    order = {key: i for i, key in enumerate(passages)}
    for key in sorted(picks.passages, key=lambda k: (order.get(k, len(order)), k)):
        entry = picks.passages[key]
        lines += ["", "[[passage]]", f'key = "{key}"']
        if key in passages:
            lines.append(f"# > {_preview(passages[key])}")
        if entry.auto:
            lines.append("auto = true")
        for name, refs in (("picks", entry.refs), ("rejected", entry.rejected)):
            if name == "rejected" and not refs:
                continue
            lines.append(f"{name} = [")
            for ref in refs:
                preview = sentences.get((key, str(ref)))
                comment = f"  # {_preview(preview)}" if preview else ""
                check = sentence_check(preview) if preview is not None else ref.check
                lines.append(f'  "{ref}{"@" + check if check else ""}",{comment}')
            lines.append("]")
    return "\n".join(lines) + "\n"

def _array(refs: list[PickRef], key: str, sentences: dict[tuple[str, str], str]):
    import tomlkit

    array = tomlkit.array()
    for ref in refs:
        preview = sentences.get((key, str(ref)))
        check = sentence_check(preview) if preview is not None else ref.check
        array.add_line(f"{ref}{'@' + check if check else ''}", indent="  ", comment=_preview(preview) if preview else None)
    array.add_line(indent="")
    return array


def _stored_refs(table, name: str = "picks") -> list[str] | None:
    try:
        return [str(PickRef.parse(str(item))) for item in table.get(name, [])]
    except ValueError:
        return None


def _update(table, name: str, refs: list[PickRef], key: str, sentences: dict[tuple[str, str], str]) -> None:
    """Make ``table[name]`` hold ``refs``, touching as little as it can: when the change only
    removes items and appends new ones, the other lines (and the artist's comments between
    them) stay as they are; any other change writes the array afresh."""
    import tomlkit

    stored = _stored_refs(table, name)
    wanted = [str(r) for r in refs]
    if stored == wanted:
        return
    array = table.get(name)
    kept = [r for r in stored or [] if r in wanted]
    if stored is None or not isinstance(array, tomlkit.items.Array) or kept != wanted[: len(kept)] or len(set(stored)) != len(stored):
        if refs or name == "picks":
            table[name] = _array(refs, key, sentences)
        else:
            del table[name]
        return
    if not refs and name != "picks":
        del table[name]
        return
    for i in reversed(range(len(stored))):
        if stored[i] not in wanted:
            del array[i]
    for ref in refs[len(kept) :]:
        preview = sentences.get((key, str(ref)))
        check = sentence_check(preview) if preview is not None else ref.check
        array.add_line(f"{ref}{'@' + check if check else ''}", indent="  ", comment=_preview(preview) if preview else None)


def render_picks(existing: str | None, picks: Picks, *, title: str, passages: dict[str, str], sentences: dict[tuple[str, str], str]) -> str:
    """The picks file after ``picks``: a new file is written whole (``dump_picks``); an
    existing one is edited in place with tomlkit, so every entry that did not change
    (the artist's own above all) keeps its comments and formatting byte for byte, and
    the entries keep the order the file gives them. Entries ``picks`` no longer holds
    go; new ones are appended in essay order."""
    if not existing or not existing.strip():
        return dump_picks(picks, title=title, passages=passages, sentences=sentences)
    import tomlkit

    doc = tomlkit.parse(existing)
    if not isinstance(doc.get("passage"), tomlkit.items.AoT):
        doc.pop("passage", None)  # absent, or an empty `passage = []`
        doc.append("passage", tomlkit.aot())
    tables = doc["passage"]
    present = set()
    for i in reversed(range(len(tables))):
        table = tables[i]
        key = table.get("key")
        entry = picks.passages.get(key) if isinstance(key, str) else None
        if entry is None:
            del tables[i]
            continue
        present.add(key)
        _update(table, "picks", entry.refs, key, sentences)
        _update(table, "rejected", entry.rejected, key, sentences)
        if entry.auto and not table.get("auto", False):
            table["auto"] = True
        elif not entry.auto and "auto" in table:
            del table["auto"]
    order = {key: i for i, key in enumerate(passages)}
    for key in sorted(set(picks.passages) - present, key=lambda k: (order.get(k, len(order)), k)):
        entry = picks.passages[key]
        table = tomlkit.table()
        table.trivia.indent = "\n"
        table.add("key", key)
        if key in passages:
            table.add(tomlkit.comment(f"> {_preview(passages[key])}"))
        if entry.auto:
            table.add("auto", True)
        table.add("picks", _array(entry.refs, key, sentences))
        if entry.rejected:
            table.add("rejected", _array(entry.rejected, key, sentences))
        tables.append(table)
    if not len(tables):
        doc.pop("passage")  # an empty array of tables would be written as `passage = []`
    return tomlkit.dumps(doc)
