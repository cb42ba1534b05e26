"""Sentence splitting with NLTK's Punkt, offline.

No ``nltk.download`` ever runs. The default ("builtin") splitter is Punkt with
parameters that ship in this package: orthographic statistics learnt from the
exhibit's essays (``punkt_params.json``, made by ``python -m
generator.content.punkt_training``) plus hand-kept lists of abbreviations and
frequent sentence starters. Keeping the model fixed keeps passage keys stable:
editing one essay never moves sentence boundaries in another. With
``sentence_splitter = "nltk-data"`` in site.toml, NLTK's installed English
Punkt data is used instead (and an error says so if it is not installed).
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from ..errors import InputError

PARAMS_FILE = Path(__file__).with_name("punkt_params.json")

# Lower-cased, without the final period, as Punkt stores them.
ABBREVIATIONS = frozenset(
    """
    dr mr mrs ms prof rev gen col lt sgt capt cmdr adm gov sen rep pres st mt ft jr sr
    e.g i.e etc vs cf al approx ca est dept univ assn inc ltd co corp bros
    fig figs eq eqs no nos vol vols pp ch sec ed eds p
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun
    u.s u.k u.n e.u u.s.a u.s.s.r a.m p.m
    yr yrs hr hrs min mins sec secs approx avg max
    """.split()
)

SENTENCE_STARTERS = frozenset(
    """
    the a an it its this that these those they there then but and so yet
    however meanwhile still we our i he she his her in on at for when while
    if as after before because each every some most many no one what why how
    """.split()
)


class Splitter(Protocol):
    def split(self, text: str, *, merge: bool = True) -> list[str]: ...


_LOWER_START = re.compile(r"""^[\"'“‘(\[]*[a-z]""")


def _merge_lowercase_starts(sentences: list[str]) -> list[str]:
    """Punkt always breaks after ?! even inside a quotation ("Why?" she asked.)
    and after an unknown abbreviation; a 'sentence' that starts lower-case is
    the tail of the one before it."""
    out: list[str] = []
    for s in sentences:
        if out and _LOWER_START.match(s):
            out[-1] = f"{out[-1]} {s}"
        else:
            out.append(s)
    return out


class PunktSplitter:
    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer

    def split(self, text: str, *, merge: bool = True) -> list[str]:
        """Sentences; ``merge=False`` keeps Punkt's own breaks before a lower-case word."""
        text = " ".join(text.split())
        if not text:
            return []
        sentences = self._tokenizer.tokenize(text)
        return _merge_lowercase_starts(sentences) if merge else sentences


def punkt_module():
    """NLTK's ``nltk.tokenize.punkt``, imported without running ``nltk/__init__``.

    That ``__init__`` imports most of NLTK (and numpy, and scipy where present):
    0.3-0.7 s, more than a whole cold build of the site. Punkt itself needs
    only a few small modules. While it imports, ``nltk`` and ``nltk.tokenize``
    are bare package modules with the real search paths; afterwards every
    ``nltk`` module it loaded leaves ``sys.modules`` again, so this copy of
    Punkt stays private and a later ``import nltk`` starts clean.
    """
    import importlib
    import importlib.util
    import types

    if "nltk" in sys.modules:
        return importlib.import_module("nltk.tokenize.punkt")
    spec = importlib.util.find_spec("nltk")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(None, "NLTK is not installed: python3 -m pip install -r requirements.txt")
    root = Path(list(spec.submodule_search_locations)[0])
    for name, folder in (("nltk", root), ("nltk.tokenize", root / "tokenize")):
        module = types.ModuleType(name)
        module.__path__ = [str(folder)]
        sys.modules[name] = module
    try:
        return importlib.import_module("nltk.tokenize.punkt")
    finally:
        for name in [n for n in sys.modules if n == "nltk" or n.startswith("nltk.")]:
            del sys.modules[name]


@lru_cache(maxsize=None)
def _punkt():
    return _unwrapped(punkt_module())


def _unwrapped(punkt):
    """This private copy of Punkt with its fixed patterns called directly.

    NLTK routes every regex through ``nltk.redos``: the same ``regex`` engine,
    wrapped so each match runs under a timeout, a guard meant for patterns a
    caller supplies. Punkt's own patterns are fixed and linear; unwrapped, the
    engine, the patterns and so the sentences are the same, and a third of
    Punkt's time (the wrapper's) is gone.
    """
    import types

    redos = punkt.redos
    if not hasattr(redos, "TimedPattern"):
        return punkt

    def raw(p):
        return p._rx if isinstance(p, redos.TimedPattern) else p

    shim = types.SimpleNamespace(compile=lambda pattern, flags=0, timeout=None: raw(redos.compile(pattern, flags)))
    punkt.redos = shim
    punkt._re_non_punct = raw(punkt._re_non_punct)
    for cls in (punkt.PunktToken, punkt.PunktLanguageVars):
        for name, value in list(vars(cls).items()):
            if isinstance(value, redos.TimedPattern):
                setattr(cls, name, raw(value))
    return punkt


def _builtin_params():
    PunktParameters = _punkt().PunktParameters

    params = PunktParameters()
    try:
        data = json.loads(PARAMS_FILE.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        # Never fall back to other parameters: every passage key would silently change.
        raise InputError(PARAMS_FILE, f"the sentence splitter's parameters are missing or unreadable ({exc}); restore the file from git") from None
    params.abbrev_types = set(data["abbrev_types"])
    params.collocations = {tuple(c) for c in data["collocations"]}
    params.sent_starters = set(data["sent_starters"])
    for word, flags in data["ortho_context"].items():
        params.ortho_context[word] = flags
    params.abbrev_types |= ABBREVIATIONS
    params.sent_starters |= SENTENCE_STARTERS
    return params


@lru_cache(maxsize=None)
def get_splitter(kind: str = "builtin") -> Splitter:
    if kind == "nltk-data":
        import nltk

        try:
            nltk.data.find("tokenizers/punkt_tab/english/")
        except LookupError:
            raise InputError(None, "sentence_splitter = \"nltk-data\" needs NLTK's punkt_tab data installed; use \"builtin\" to work offline") from None
        from nltk.tokenize import PunktTokenizer

        return PunktSplitter(PunktTokenizer("english"))
    return PunktSplitter(_punkt().PunktSentenceTokenizer(_builtin_params()))


def split_sentences(text: str, kind: str = "builtin") -> list[str]:
    return get_splitter(kind).split(text)


def count_sentences(text: str, kind: str = "builtin") -> int:
    """How many sentences Punkt finds, a lower-case start counting as a new one."""
    return len(get_splitter(kind).split(text, merge=False))
