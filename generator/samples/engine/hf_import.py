"""`python build.py import-model`: a Hugging Face GPT-2 folder -> a gpt-2-simple checkpoint.

Most people get GPT-2 (and distilgpt2, gpt2-medium, community fine-tunes)
from the Hugging Face hub, often already in their local cache; gpt-2-simple
reads only OpenAI's TensorFlow layout. This converts a folder as
``save_pretrained`` writes it (config.json, model.safetensors or
pytorch_model.bin, vocab.json, merges.txt) into models/<name>/, which every
command then loads like any other model.

Hugging Face's GPT-2 and OpenAI's are the same network: Conv1D weights are
stored [in, out] in both, so they map one to one (with a leading 1 on the
TensorFlow side), the LM head is tied to the token embeddings, and the
``attn.bias`` mask buffers of older files are not weights. Anything that is
not that architecture is refused, naming what differs.
"""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np

from ...errors import InputError
from .checkpoint import Hparams

# Settings gpt-2-simple's model hard-codes; a config that differs is another network.
_FIXED = {
    "activation_function": ("gelu_new",),
    "layer_norm_epsilon": (1e-5,),
    "scale_attn_weights": (True,),
    "scale_attn_by_inverse_layer_idx": (False,),
    "reorder_and_upcast_attn": (False,),
    "add_cross_attention": (False,),
    "tie_word_embeddings": (True,),
}
_BUFFERS = (".attn.bias", ".attn.masked_bias")


def read_config(folder: Path) -> Hparams:
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(path, "missing: is this a Hugging Face model folder (as save_pretrained writes it)?") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"unreadable ({exc})") from None
    kind = config.get("model_type")
    archs = config.get("architectures") or []
    if kind != "gpt2" or any(a not in ("GPT2LMHeadModel", "GPT2Model") for a in archs):
        raise InputError(path, f"not GPT-2's architecture (model_type {kind!r}, architectures {archs}); only GPT-2 models convert to gpt-2-simple")
    for key, allowed in _FIXED.items():
        if key in config and config[key] not in allowed:
            raise InputError(path, f"{key} = {config[key]!r}: gpt-2-simple's GPT-2 needs {allowed[0]!r}")
    try:
        hp = Hparams(
            n_vocab=int(config["vocab_size"]),
            n_ctx=int(config.get("n_positions", config.get("n_ctx"))),
            n_embd=int(config["n_embd"]),
            n_head=int(config["n_head"]),
            n_layer=int(config["n_layer"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"missing or bad setting ({exc})") from None
    if config.get("n_inner") not in (None, 4 * hp.n_embd):
        raise InputError(path, f"n_inner = {config['n_inner']}: gpt-2-simple's GPT-2 needs 4 × n_embd = {4 * hp.n_embd}")
    if hp.n_embd % hp.n_head:
        raise InputError(path, f"n_embd {hp.n_embd} is not a multiple of n_head {hp.n_head}")
    return hp


def read_tensors(folder: Path) -> dict[str, np.ndarray]:
    """The state dict, from safetensors (single file or shards), else pytorch_model.bin read without running pickled code."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.exists() or index.exists():
        from safetensors.numpy import load_file

        files = [single] if single.exists() else sorted({folder / f for f in json.loads(index.read_text())["weight_map"].values()})
        out: dict[str, np.ndarray] = {}
        for f in files:
            try:
                out.update(load_file(str(f)))
            except Exception as exc:  # noqa: BLE001 - safetensors raises its own kinds
                raise InputError(f, f"unreadable safetensors file ({exc})") from None
        return out
    bin_file = folder / "pytorch_model.bin"
    if bin_file.exists():
        return read_torch_zip(bin_file)
    raise InputError(folder, "no model.safetensors or pytorch_model.bin here")


class _TorchUnpickler(pickle.Unpickler):
    """Reads a torch.save zip's data.pkl without running any pickled code: only the
    names a state dict of float tensors uses are allowed, and each becomes numpy."""

    _DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64, "BFloat16Storage": None}

    def __init__(self, fh, archive: zipfile.ZipFile, prefix: str, path: Path):
        super().__init__(fh)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            import collections

            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._rebuild
        if module == "torch" and name in self._DTYPES:
            return name
        raise InputError(self.path, f"refusing to read it: it asks to run {module}.{name} (convert it to model.safetensors)")

    def persistent_load(self, pid):
        _, storage, key, _location, _numel = pid
        dtype = self._DTYPES.get(storage)
        data = self.archive.read(f"{self.prefix}/data/{key}")
        if dtype is None:  # bfloat16: the top half of a float32
            return (np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        return np.frombuffer(data, dtype=dtype).astype(np.float32)

    @staticmethod
    def _rebuild(storage, offset, size, stride, *_):
        if not size:
            return storage[offset : offset + 1].reshape(())
        itemsize = storage.itemsize
        return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)).copy()


def read_torch_zip(path: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            with archive.open(pkl) as fh:
                state = _TorchUnpickler(fh, archive, pkl.rsplit("/", 1)[0], path).load()
    except (zipfile.BadZipFile, StopIteration):
        raise InputError(path, "not a torch.save zip archive (the old pickle-only format is not read: convert it to model.safetensors)") from None
    return {k: np.asarray(v) for k, v in state.items()}


def tf_weights(tensors: dict[str, np.ndarray], hp: Hparams, source: Path) -> dict[str, np.ndarray]:
    """gpt-2-simple's variable names -> arrays, checking every shape against the config."""
    state = {(k[len("transformer.") :] if k.startswith("transformer.") else k): v for k, v in tensors.items()}
    head = state.pop("lm_head.weight", None)
    n, v, c = hp.n_embd, hp.n_vocab, hp.n_ctx
    plan = {"wte.weight": ("model/wte", (v, n)), "wpe.weight": ("model/wpe", (c, n)), "ln_f.weight": ("model/ln_f/g", (n,)), "ln_f.bias": ("model/ln_f/b", (n,))}
    for i in range(hp.n_layer):
        for hf, tf, shape in (
            ("ln_1.weight", "ln_1/g", (n,)),
            ("ln_1.bias", "ln_1/b", (n,)),
            ("attn.c_attn.weight", "attn/c_attn/w", (n, 3 * n)),
            ("attn.c_attn.bias", "attn/c_attn/b", (3 * n,)),
            ("attn.c_proj.weight", "attn/c_proj/w", (n, n)),
            ("attn.c_proj.bias", "attn/c_proj/b", (n,)),
            ("ln_2.weight", "ln_2/g", (n,)),
            ("ln_2.bias", "ln_2/b", (n,)),
            ("mlp.c_fc.weight", "mlp/c_fc/w", (n, 4 * n)),
            ("mlp.c_fc.bias", "mlp/c_fc/b", (4 * n,)),
            ("mlp.c_proj.weight", "mlp/c_proj/w", (4 * n, n)),
            ("mlp.c_proj.bias", "mlp/c_proj/b", (n,)),
        ):
            plan[f"h.{i}.{hf}"] = (f"model/h{i}/{tf}", shape)
    out = {}
    for key, (name, shape) in plan.items():
        if key not in state:
            raise InputError(source, f"weight {key} is missing")
        array = np.asarray(state.pop(key), dtype=np.float32)
        if array.shape != shape:
            raise InputError(source, f"weight {key} is {list(array.shape)}, but config.json says {list(shape)}")
        out[name] = array[np.newaxis] if name.endswith("/w") else array  # Conv1D: [1, in, out] in TensorFlow
    extra = sorted(k for k in state if not k.endswith(_BUFFERS))
    if extra:
        raise InputError(source, f"weights GPT-2 does not have: {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}")
    if head is not None and (head.shape != out["model/wte"].shape or not np.array_equal(np.asarray(head, np.float32), out["model/wte"])):
        raise InputError(source, "lm_head.weight is not tied to wte.weight; gpt-2-simple's GPT-2 ties them")
    return out


def vocabulary(folder: Path, hp: Hparams) -> tuple[str, str]:
    """encoder.json and vocab.bpe: the same files as vocab.json and merges.txt, by other names."""
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    for f in (vocab_file, merges_file):
        if not f.exists():
            raise InputError(f, "missing: the tokenizer's files are part of the model")
    vocab = vocab_file.read_text("utf-8")
    table = json.loads(vocab)
    if len(table) != hp.n_vocab or "<|endoftext|>" not in table:
        raise InputError(vocab_file, f"{len(table)} tokens{' and no <|endoftext|>' if '<|endoftext|>' not in table else ''}; config.json says {hp.n_vocab}")
    merges = merges_file.read_text("utf-8")
    if not merges.startswith("#version"):
        merges = "#version: 0.2\n" + merges  # gpt-2-simple skips the first line
    return vocab, merges if merges.endswith("\n") else merges + "\n"


def write_model(folder: Path, hp: Hparams, weights: dict[str, np.ndarray], vocab: str, merges: str) -> None:
    """A gpt-2-simple model folder: the variables initialised to zeros in the graph
    (so the meta graph stays small) and loaded with the imported values."""
    from .checkpoint import write_checkpoint
    from .tf import load

    tf, _ = load()
    v1 = tf.compat.v1
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "encoder.json").write_text(vocab, "utf-8")
    (folder / "vocab.bpe").write_text(merges, "utf-8")
    graph = tf.Graph()
    with graph.as_default():
        variables = {name: v1.get_variable(name, value.shape, tf.float32, initializer=v1.zeros_initializer()) for name, value in sorted(weights.items())}
        saver = v1.train.Saver(var_list=list(variables.values()))
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            for name, var in variables.items():
                var.load(weights[name], sess)
            write_checkpoint(sess, saver, folder, hp)


def from_hub(repo_id: str, cache_dir: Path | None = None) -> Path:
    """Fetch a hub repository's GPT-2 files with huggingface_hub (or find them in its cache)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise InputError(None, "--from-hub needs the huggingface_hub package: python3 -m pip install huggingface_hub") from None
    try:
        path = snapshot_download(repo_id, allow_patterns=["config.json", "*.safetensors", "model.safetensors.index.json", "vocab.json", "merges.txt"], cache_dir=cache_dir)
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, auth...
        raise InputError(None, f"could not fetch {repo_id} from the Hugging Face hub ({type(exc).__name__}: {str(exc)[:160]}); "
                         "is this machine online? A folder already on disk imports with: import-model PATH") from None
    return Path(path)


def resolve_source(path: Path) -> Path:
    """A model folder; a Hugging Face cache entry (models--org--name) means its main snapshot."""
    if (path / "snapshots").is_dir():
        ref = path / "refs" / "main"
        snapshots = sorted((path / "snapshots").iterdir())
        chosen = path / "snapshots" / ref.read_text().strip() if ref.exists() else (snapshots[-1] if snapshots else None)
        if chosen is None or not chosen.is_dir():
            raise InputError(path, "a Hugging Face cache entry with no snapshot")
        return chosen
    return path


def hub_identity(folder: Path) -> tuple[str, str] | None:
    """(repository id, commit) when ``folder`` is a snapshot in Hugging Face's cache
    (``models--org--name/snapshots/<commit>``, which is what ``from_hub`` returns), else None."""
    snapshots, entry = folder.parent, folder.parent.parent
    if snapshots.name != "snapshots" or not entry.name.startswith("models--"):
        return None
    return entry.name[len("models--"):].replace("--", "/"), folder.name


def origin_of_source(folder: Path) -> dict[str, str]:
    """What an import records of where its weights came from: the hub repository and commit
    for a snapshot of Hugging Face's cache; otherwise only the folder's name (never its path)."""
    hub = hub_identity(folder)
    if hub:
        return {"source": "huggingface", "repository": hub[0], "commit": hub[1]}
    return {"source": "folder", "folder": folder.resolve().name}


def import_model(source: Path, models_dir: Path, name: str) -> Hparams:
    """Convert ``source`` into ``models_dir/name`` (all or nothing), verify it and record its origin."""
    from .. import origin
    from .download import verify

    folder = models_dir / name
    if folder.exists():
        raise InputError(folder, "a model of that name is already there; remove it or choose --name")
    source = resolve_source(source)
    hp = read_config(source)
    weights = tf_weights(read_tensors(source), hp, source)
    vocab, merges = vocabulary(source, hp)
    staging = models_dir / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_model(staging, hp, weights, vocab, merges)
        verify(staging)
        origin.record(staging, **origin_of_source(source))
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return hp
