"""`python build.py download-model`: OpenAI's GPT-2 checkpoints, fetched by gpt-2-simple and checked."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

from ...errors import InputError
from .checkpoint import FILES, Hparams, check_model


def verify(folder: Path) -> int:
    """Every file there and complete: the weights file holds exactly the bytes
    its index promises, and the embeddings match hparams.json. Returns the
    number of parameters."""
    from .tf import load

    tf, _ = load()
    check_model(folder.parent, folder.name)
    try:
        reader = tf.train.load_checkpoint(str(folder / "model.ckpt"))
    except Exception as exc:  # noqa: BLE001 - TensorFlow raises many kinds here
        raise InputError(folder, f"the checkpoint cannot be read ({type(exc).__name__}); download it again") from None
    shapes = reader.get_variable_to_shape_map()
    params = sum(int(_prod(s)) for s in shapes.values())
    data = folder / "model.ckpt.data-00000-of-00001"
    if data.stat().st_size != 4 * params:
        raise InputError(data, f"truncated: {data.stat().st_size:,} bytes, expected {4 * params:,}; download it again")
    hp = Hparams.read(folder)
    if shapes.get("model/wte") != [hp.n_vocab, hp.n_embd]:
        raise InputError(folder / "hparams.json", f"does not match the weights (model/wte is {shapes.get('model/wte')})")
    return params


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def download(models_dir: Path, name: str) -> int:
    """Fetch with gpt-2-simple's downloader, then verify. Offline, fail clearly and leave no partial model."""
    from .tf import load

    _, gpt2 = load()
    folder = models_dir / name
    existed = folder.exists()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            gpt2.download_gpt2(model_dir=str(models_dir), model_name=name)
    except Exception as exc:  # noqa: BLE001 - requests, OSError, KeyError on a bad reply...
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise InputError(
            folder,
            f"could not download GPT-2 {name} ({type(exc).__name__}: {str(exc)[:160]}). "
            "Is this machine online? Otherwise copy a checkpoint there by hand "
            f"({', '.join(FILES)}), or use the offline demo model: python build.py train-demo-model",
        ) from None
    return verify(folder)
