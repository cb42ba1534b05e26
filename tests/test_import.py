"""import-model, proven against an independent reference.

A tiny random GPT-2 is written in Hugging Face's layout, as save_pretrained
writes it (safetensors, Conv1D weights [in, out], LM head tied to wte, with or
without the "transformer." prefix, old attn.bias mask buffers present). The
reference is a numpy forward pass written here from Hugging Face's GPT-2
semantics, sharing no code with the importer: the imported model's logits
must agree within 1e-4 and its greedy continuation, through this project's
engine, token for token.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from generator.samples.cache import Params
from tests.conftest import run_cli

CFG = {"n_embd": 32, "n_head": 4, "n_layer": 2, "n_positions": 64}
PROMPT = "Rovers drive slowly. They carry cameras."


def gpt2_tensors(n_vocab: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Hugging Face names and shapes; weights large enough that greedy choices are clear."""
    rng = np.random.default_rng(seed)
    n, c = CFG["n_embd"], CFG["n_positions"]

    def w(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    t = {"wte.weight": w(n_vocab, n), "wpe.weight": w(c, n, scale=0.1), "ln_f.weight": 1 + w(n, scale=0.1), "ln_f.bias": w(n, scale=0.1)}
    for i in range(CFG["n_layer"]):
        p = f"h.{i}."
        t |= {
            p + "ln_1.weight": 1 + w(n, scale=0.1), p + "ln_1.bias": w(n, scale=0.1),
            p + "attn.c_attn.weight": w(n, 3 * n), p + "attn.c_attn.bias": w(3 * n, scale=0.1),
            p + "attn.c_proj.weight": w(n, n), p + "attn.c_proj.bias": w(n, scale=0.1),
            p + "ln_2.weight": 1 + w(n, scale=0.1), p + "ln_2.bias": w(n, scale=0.1),
            p + "mlp.c_fc.weight": w(n, 4 * n), p + "mlp.c_fc.bias": w(4 * n, scale=0.1),
            p + "mlp.c_proj.weight": w(4 * n, n), p + "mlp.c_proj.bias": w(n, scale=0.1),
        }  # fmt: skip
    return t


def hf_folder(root: Path, *, prefix: bool, tensors: dict | None = None, config: dict | None = None, fmt: str = "safetensors") -> tuple[Path, dict]:
    from safetensors.numpy import save_file

    from generator.samples.engine.checkpoint import write_vocabulary

    vocab = root / "vocab-src"
    n_vocab = write_vocabulary(vocab, merges=300)
    folder = root / "hf-gpt2"
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_bytes((vocab / "encoder.json").read_bytes())
    (folder / "merges.txt").write_bytes((vocab / "vocab.bpe").read_bytes())
    weights = tensors if tensors is not None else gpt2_tensors(n_vocab)
    stored = dict(weights)
    for i in range(CFG["n_layer"]):  # the old causal-mask buffers: not weights
        stored[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, CFG["n_positions"], CFG["n_positions"]), np.float32))
    if prefix:  # GPT2LMHeadModel.save_pretrained: transformer.*, and the tied head
        stored = {f"transformer.{k}": v for k, v in stored.items()} | {"lm_head.weight": weights["wte.weight"]}
    if fmt == "safetensors":
        save_file(stored, str(folder / "model.safetensors"))
    else:
        write_torch_zip(stored, folder / "pytorch_model.bin")
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": n_vocab, "activation_function": "gelu_new",
           "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True, **CFG} | (config or {})  # fmt: skip
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder, weights


# -- the reference: Hugging Face's GPT-2, in numpy, float64 -------------------------------


def _ln(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def reference_logits(t: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    t = {k: v.astype(np.float64) for k, v in t.items()}
    n, heads = CFG["n_embd"], CFG["n_head"]
    d, T = n // heads, len(ids)
    h = t["wte.weight"][ids] + t["wpe.weight"][np.arange(T)]
    mask = np.tril(np.ones((T, T), bool))
    for i in range(CFG["n_layer"]):
        p = f"h.{i}."
        x = _ln(h, t[p + "ln_1.weight"], t[p + "ln_1.bias"])
        q, k, v = np.split(x @ t[p + "attn.c_attn.weight"] + t[p + "attn.c_attn.bias"], 3, axis=-1)
        q, k, v = (a.reshape(T, heads, d).transpose(1, 0, 2) for a in (q, k, v))
        scores = np.where(mask, q @ k.transpose(0, 2, 1) / np.sqrt(d), np.finfo(np.float64).min)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ v
        h = h + attn.transpose(1, 0, 2).reshape(T, n) @ t[p + "attn.c_proj.weight"] + t[p + "attn.c_proj.bias"]
        x = _ln(h, t[p + "ln_2.weight"], t[p + "ln_2.bias"])
        h = h + _gelu_new(x @ t[p + "mlp.c_fc.weight"] + t[p + "mlp.c_fc.bias"]) @ t[p + "mlp.c_proj.weight"] + t[p + "mlp.c_proj.bias"]
    return _ln(h, t["ln_f.weight"], t["ln_f.bias"]) @ t["wte.weight"].T


def reference_greedy(t, ids: list[int], length: int) -> list[int]:
    out = list(ids)
    for _ in range(length):
        out.append(int(np.argmax(reference_logits(t, out)[-1])))
    return out[len(ids) :]


# -- the imported checkpoint, through gpt-2-simple's model and this project's engine -------


def gpt2_simple_logits(folder: Path, ids: list[int]) -> np.ndarray:
    from gpt_2_simple.src import model

    from generator.samples.engine.checkpoint import Hparams
    from generator.samples.engine.tf import load

    tf, _ = load()
    hp = model.default_hparams()
    hp.override_from_dict(Hparams.read(folder).as_dict())
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        x = tf.compat.v1.placeholder(tf.int32, [1, None])
        logits = model.model(hparams=hp, X=x)["logits"]
        tf.compat.v1.train.Saver().restore(sess, tf.train.latest_checkpoint(str(folder)))
        return sess.run(logits, {x: [ids]})[0]


@pytest.mark.parametrize("prefix", [False, True], ids=["openai-community-layout", "save_pretrained-layout"])
def test_imported_model_matches_the_reference(tmp_path, prefix):
    from generator.samples.engine.fast import FastEngine

    source, weights = hf_folder(tmp_path, prefix=prefix)
    models = tmp_path / "models"
    assert run_cli("import-model", str(source), "--name", "hf-tiny", "--models-dir", str(models), "-q") == 0
    engine = FastEngine(models / "hf-tiny")
    try:
        ids = engine.encode(PROMPT)
        ours = gpt2_simple_logits(models / "hf-tiny", ids)
        theirs = reference_logits(weights, ids)
        assert np.abs(ours - theirs).max() < 1e-4
        params = Params(temperature=1.0, top_k=1, length=24, seed=1, finetune_steps=0, learning_rate=1e-4)
        engine.reset()
        greedy = engine.sample_tokens(PROMPT, params, 1)[0].tolist()
    finally:
        engine.close()
    expected = reference_greedy(weights, ids, 24)
    assert greedy == expected and len(set(expected)) > 3


def test_the_reference_itself_sees_a_wrong_mapping(tmp_path):
    """The check can fail: the same weights with one square matrix transposed give other logits."""
    _, weights = hf_folder(tmp_path, prefix=False)
    wrong = dict(weights)
    wrong["h.0.attn.c_proj.weight"] = weights["h.0.attn.c_proj.weight"].T.copy()
    ids = [5, 17, 60, 3, 99]
    assert np.abs(reference_logits(wrong, ids) - reference_logits(weights, ids)).max() > 1e-2


def test_pytorch_bin_is_read_without_running_pickled_code(tmp_path):
    source, weights = hf_folder(tmp_path, prefix=True, fmt="bin")
    models = tmp_path / "models"
    assert run_cli("import-model", str(source), "--name", "from-bin", "--models-dir", str(models), "-q") == 0
    ids = [5, 17, 60, 3, 99]
    assert np.abs(gpt2_simple_logits(models / "from-bin", ids) - reference_logits(weights, ids)).max() < 1e-4


def test_a_pickle_that_runs_code_is_refused(tmp_path, capsys):
    source, _ = hf_folder(tmp_path, prefix=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in ("config.json", "vocab.json", "merges.txt"):
        (bad / f).write_bytes((source / f).read_bytes())
    with zipfile.ZipFile(bad / "pytorch_model.bin", "w") as z:
        z.writestr("archive/data.pkl", b"cos\nsystem\n(S'echo pwned > pwned.txt'\ntR.")  # os.system(...), if unpickled naively
    assert run_cli("import-model", str(bad), "--name", "evil", "--models-dir", str(tmp_path / "models")) == 1
    err = capsys.readouterr().err
    assert "refusing to read it: it asks to run os.system" in err
    assert not (tmp_path / "models" / "evil").exists() and not Path("pwned.txt").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"config": {"model_type": "llama", "architectures": ["LlamaForCausalLM"]}}, "not GPT-2's architecture"),
        ({"config": {"n_embd": 48}}, "weight wte.weight is [557, 32], but config.json says [557, 48]"),
        ({"config": {"activation_function": "relu"}}, "activation_function = 'relu'"),
        ({"drop": "h.1.mlp.c_fc.bias"}, "weight h.1.mlp.c_fc.bias is missing"),
        ({"transpose": "h.0.attn.c_attn.weight"}, "weight h.0.attn.c_attn.weight is [96, 32], but config.json says [32, 96]"),
    ],
)
def test_what_is_not_gpt2_is_refused_naming_the_mismatch(tmp_path, capsys, change, message):
    from generator.samples.engine.checkpoint import write_vocabulary

    n_vocab = write_vocabulary(tmp_path / "v", merges=300)
    tensors = gpt2_tensors(n_vocab)
    if "drop" in change:
        tensors.pop(change["drop"])
    if "transpose" in change:
        tensors[change["transpose"]] = tensors[change["transpose"]].T.copy()
    source, _ = hf_folder(tmp_path, prefix=False, tensors=tensors, config=change.get("config"))
    models = tmp_path / "models"
    assert run_cli("import-model", str(source), "--name", "x", "--models-dir", str(models)) == 1
    assert message in capsys.readouterr().err
    assert not (models / "x").exists()


def test_from_hub_fails_clearly_without_the_package_or_the_network(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    assert run_cli("import-model", "--from-hub", "openai-community/gpt2", "--models-dir", str(tmp_path)) == 1
    assert "--from-hub needs the huggingface_hub package" in capsys.readouterr().err
    fake = types.ModuleType("huggingface_hub")

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    fake.snapshot_download = offline
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    assert run_cli("import-model", "--from-hub", "openai-community/gpt2", "--models-dir", str(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "could not fetch openai-community/gpt2 from the Hugging Face hub" in err and "is this machine online" in err
    assert not list(tmp_path.iterdir())


# -- a torch.save zip, written by hand (no torch here) -----------------------------------


def write_torch_zip(state: dict[str, np.ndarray], path: Path) -> None:
    """What torch.save writes for a state dict of float32 tensors: archive/data.pkl with
    persistent storage ids, and one raw file per storage under archive/data/."""
    torch_mod, utils_mod = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch_mod.FloatStorage, torch_mod._utils, utils_mod._rebuild_tensor_v2 = FloatStorage, utils_mod, _rebuild_tensor_v2

    @dataclasses.dataclass
    class Tensor:
        key: str
        shape: tuple

        def __reduce__(self):
            stride = tuple(int(np.prod(self.shape[i + 1 :])) for i in range(len(self.shape)))
            return (_rebuild_tensor_v2, (("storage", self.key), 0, self.shape, stride, False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, tuple) and obj[:1] == ("storage",):
                return ("storage", FloatStorage, obj[1], "cpu", int(np.prod(shapes[obj[1]])))
            return None

    shapes = {str(i): v.shape for i, v in enumerate(state.values())}
    saved = {m: sys.modules.get(m) for m in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch_mod, utils_mod
    try:
        import io

        buf = io.BytesIO()
        Pickler(buf, protocol=2).dump(collections.OrderedDict((k, Tensor(str(i), v.shape)) for i, (k, v) in enumerate(state.items())))
    finally:
        for m, mod in saved.items():
            if mod is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = mod
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        for i, v in enumerate(state.values()):
            z.writestr(f"archive/data/{i}", np.ascontiguousarray(v, dtype=np.float32).tobytes())
