"""`python build.py download-model`: OpenAI's GPT-2 checkpoints, fetched carefully, then verified.

gpt-2-simple's own downloader has no timeout, never checks a status code or
a size, cannot resume, and takes a half-downloaded folder for a whole one
(when OpenAI moved its bucket in 2021, users got XML error pages saved as
model files). This one, in gpt-2-simple's layout
(``<base>/models/<name>/<file>``):

* connect and read timeouts, retries with backoff, every status checked;
* an interrupted file resumes with an HTTP Range request (within a run, and
  across runs: the files wait in ``models/.<name>.partial/``);
* every file checked against the published sizes (124M, 355M) or the
  server's Content-Length, and an HTML or XML page in place of a model file
  caught by its first bytes;
* a progress bar in bytes;
* ``models/<name>`` appears only when every file is complete and the
  checkpoint verifies; a failure names the file and the URL.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from ...errors import InputError
from .. import origin
from .checkpoint import FILES, Hparams, check_model

log = logging.getLogger(__name__)

OPENAI_BASE = "https://openaipublic.blob.core.windows.net/gpt-2"
TIMEOUT = (10, 60)  # seconds to connect, seconds between bytes
RETRIES = 5
BACKOFF = 1.0  # seconds before the first retry, doubled after each
CHUNK = 1 << 16  # small enough that a dropped connection keeps most of what came

# Published sizes in bytes (OpenAI's bucket, as gpt-2-simple downloads it).
SIZES = {
    "124M": {
        "checkpoint": 77,
        "encoder.json": 1042301,
        "hparams.json": 90,
        "model.ckpt.data-00000-of-00001": 497759232,
        "model.ckpt.index": 5215,
        "model.ckpt.meta": 471155,
        "vocab.bpe": 456318,
    },
    "355M": {
        "checkpoint": 77,
        "encoder.json": 1042301,
        "hparams.json": 91,
        "model.ckpt.data-00000-of-00001": 1419292672,
        "model.ckpt.index": 10399,
        "model.ckpt.meta": 926519,
        "vocab.bpe": 456318,
    },
}


class DownloadError(Exception):
    """A failure that another try will not mend."""


class _Retry(Exception):
    """A failure that another try may mend."""


def _looks_like_a_page(head: bytes) -> bool:
    """No file of a GPT-2 checkpoint starts with '<': an HTML or XML page does."""
    return head.lstrip()[:1] == b"<"


def fetch(session, url: str, dest: Path, expected: int | None, bar=None, *, retries: int | None = None, backoff: float | None = None) -> int:
    """Download ``url`` into ``dest``, resuming what is there; returns its size.
    ``expected`` is the published size (None: trust Content-Length)."""
    import requests

    retries = RETRIES if retries is None else retries
    delay = BACKOFF if backoff is None else backoff
    for attempt in range(retries + 1):
        have = dest.stat().st_size if dest.exists() else 0
        if expected is not None and have == expected:
            return have
        if expected is not None and have > expected:
            dest.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with session.get(url, stream=True, timeout=TIMEOUT, headers=headers) as r:
                if r.status_code == 416 and have and expected is None:
                    return have  # nothing left to send: the file is whole
                if r.status_code in (408, 429) or r.status_code >= 500:
                    raise _Retry(f"HTTP {r.status_code}")
                if r.status_code not in (200, 206):
                    raise DownloadError(f"HTTP {r.status_code} {r.reason}")
                if "html" in r.headers.get("Content-Type", "").lower():
                    raise DownloadError(f"the server sent a web page ({r.headers['Content-Type']}), not the file")
                if r.status_code == 200 and have:  # the server ignored the range: start again
                    have = 0
                length = r.headers.get("Content-Length")
                total = have + int(length) if length is not None else None
                if expected is not None and total is not None and total != expected:
                    raise DownloadError(f"the server says {total:,} bytes; the published size is {expected:,}")
                if bar is not None and expected is None and total is not None:
                    bar.total = (bar.total or 0) + total - have
                    bar.refresh()
                with open(dest, "ab" if have else "wb") as fh:
                    first = not have
                    for block in r.iter_content(CHUNK):
                        if first:
                            if _looks_like_a_page(block[:64]):
                                raise DownloadError("the server sent an HTML or XML page in place of the file")
                            first = False
                        fh.write(block)
                        if bar is not None:
                            bar.update(len(block))
            size = dest.stat().st_size
            want = expected if expected is not None else total
            if want is not None and size != want:
                if size > want:
                    raise DownloadError(f"got {size:,} bytes, expected {want:,}")
                raise _Retry(f"the connection ended after {size:,} of {want:,} bytes")
            if size == 0:
                raise DownloadError("the file is empty")
            return size
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, _Retry) as exc:
            if attempt == retries:
                raise DownloadError(f"gave up after {retries + 1} tries ({exc})") from None
            log.debug("%s: %s; retrying in %.1f s", url, exc, delay)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def download(models_dir: Path, name: str, base_url: str = OPENAI_BASE, *, progress: bool = True, retries: int | None = None, backoff: float | None = None) -> int:
    """Fetch ``name`` into ``models_dir/name`` and verify it; returns the number of parameters."""
    import requests
    from tqdm import tqdm

    folder = models_dir / name
    if folder.exists():
        log.info("%s is already there; checking it", folder)
        params = verify(folder)
        if origin.of_folder(folder) is None:
            log.warning("%s does not record where its weights came from, so pages name it “%s” (origin not recorded); "
                        "move it aside and download it again to record it", folder, name)
        return params
    staging = models_dir / f".{name}.partial"
    staging.mkdir(parents=True, exist_ok=True)
    sizes = SIZES.get(name, {})
    base = base_url.rstrip("/")
    with requests.Session() as session, tqdm(total=sum(sizes.values()) or None, unit="B", unit_scale=True, unit_divisor=1024, desc=f"GPT-2 {name}", disable=not progress) as bar:
        bar.update(sum(min((staging / f).stat().st_size, sizes.get(f, 0)) for f in FILES if (staging / f).exists()) if sizes else 0)
        for file in FILES:
            url = f"{base}/models/{name}/{file}"
            try:
                fetch(session, url, staging / file, sizes.get(file), bar, retries=retries, backoff=backoff)
            except DownloadError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise InputError(staging.parent / name / file, f"could not download {url}: {exc}. {_ADVICE}") from None
            except OSError as exc:
                raise InputError(staging / file, f"could not write {file} from {url}: {exc}") from None
    try:
        params = verify(staging)
    except InputError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(exc.path, f"{exc.message} (downloaded from {base}/models/{name}/)", exc.line) from None
    origin.record(staging, **origin_of_download(name, base))  # in the folder before it takes its name
    staging.rename(folder)
    return params


def origin_of_download(name: str, base: str) -> dict[str, str]:
    """What a download records of where its weights came from: OpenAI's GPT-2 only when it came
    from OpenAI's own bucket under one of OpenAI's names; from any other server, that server (a
    name alone says nothing of the weights)."""
    url = f"{base.rstrip('/')}/models/{name}/"
    if base.rstrip("/") == OPENAI_BASE.rstrip("/") and name in origin.OPENAI_MODELS:
        return {"source": "openai", "size": name, "url": url}
    return {"source": "download", "url": url}


_ADVICE = (
    "Nothing was kept in models/. Is this machine online? Otherwise import a Hugging Face "
    "copy (python build.py import-model PATH), or use the offline demo model (python build.py train-demo-model)"
)


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
