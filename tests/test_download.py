"""download-model against servers on 127.0.0.1 that the tests start, serving a tiny checkpoint in OpenAI's layout."""

from __future__ import annotations

import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest

from generator.samples.engine.checkpoint import FILES, fingerprint
from tests.conftest import run_cli


class Bucket(http.server.BaseHTTPRequestHandler):
    """<root>/models/<name>/<file>, with byte ranges, and faults on request."""

    root: Path
    faults: dict  # file name -> "drop-once" | "html" | "xml" | "404"
    log: list

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.log.append((self.path, self.headers.get("Range")))
        m = re.fullmatch(r"/models/([^/]+)/([^/]+)", self.path)
        path = self.root / m.group(1) / m.group(2) if m else None
        fault = self.faults.get(m.group(2)) if m else None
        if path is None or not path.is_file() or fault == "404":
            self.send_error(404, "Not Found")
            return
        if fault in ("html", "xml"):
            body = b"<!DOCTYPE html><html><body>Moved</body></html>" if fault == "html" else b'<?xml version="1.0"?><Error><Code>BlobNotFound</Code></Error>'
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")  # as a misconfigured bucket would
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if fault == "drop-once" and not rng:
            self.faults.pop(m.group(2))
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the connection drops mid-file
            return
        self.wfile.write(data[start:])


@pytest.fixture
def bucket(models, tmp_path):
    """A server holding models/tiny (and the same files under the name 124M)."""
    root = tmp_path / "bucket"
    shutil.copytree(models / "tiny", root / "tiny", ignore=shutil.ignore_patterns(".*"))
    shutil.copytree(models / "tiny", root / "124M", ignore=shutil.ignore_patterns(".*"))
    handler = type("Handler", (Bucket,), {"root": root, "faults": {}, "log": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def download(url: str, models_dir: Path, name: str = "tiny") -> int:
    return run_cli("download-model", name, "--base-url", url, "--models-dir", str(models_dir), "-q")


def test_a_complete_download_verifies_and_matches_the_source(bucket, models, tmp_path):
    handler, url = bucket
    dest = tmp_path / "models"
    assert download(url, dest) == 0
    assert sorted(p.name for p in (dest / "tiny").iterdir() if not p.name.startswith(".")) == sorted([*FILES, "origin.json"])
    assert fingerprint(dest / "tiny") == fingerprint(models / "tiny")
    assert not [p for p in dest.iterdir() if p.name.endswith(".partial")]


def test_a_dropped_connection_resumes_with_a_range_request(bucket, models, tmp_path):
    handler, url = bucket
    handler.faults["model.ckpt.data-00000-of-00001"] = "drop-once"
    dest = tmp_path / "models"
    assert download(url, dest) == 0
    requests = [r for p, r in handler.log if p.endswith("model.ckpt.data-00000-of-00001")]
    assert requests[0] is None and requests[1] is not None and requests[1].startswith("bytes=") and requests[1] != "bytes=0-"
    assert fingerprint(dest / "tiny") == fingerprint(models / "tiny")


@pytest.mark.parametrize(
    "name, fault, file, message",
    [
        ("tiny", "html", "encoder.json", "an HTML or XML page in place of the file"),
        ("tiny", "xml", "model.ckpt.index", "an HTML or XML page in place of the file"),
        ("tiny", "404", "vocab.bpe", "HTTP 404"),
        ("124M", None, "encoder.json", "the published size is 1,042,301"),  # tiny files under 124M's name: the sizes are wrong
    ],
)
def test_failures_name_file_and_url_and_leave_no_model(bucket, tmp_path, capsys, name, fault, file, message):
    handler, url = bucket
    if fault:
        handler.faults[file] = fault
    dest = tmp_path / "models"
    assert download(url, dest, name) == 1
    err = capsys.readouterr().err
    assert f"{url}/models/{name}/{file}" in err and message in err, err
    assert f"{name}/{file}" in err.split(":")[0] + err  # the file is named
    assert not (dest / name).exists()
    assert not [p for p in dest.iterdir() if p.name.startswith(".")] if dest.exists() else True


def test_an_unreachable_server_is_a_clear_error(tmp_path, capsys, monkeypatch):
    from generator.samples.engine import download as module

    monkeypatch.setattr(module, "BACKOFF", 0.01)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    dest = tmp_path / "models"
    assert download(f"http://127.0.0.1:{port}", dest) == 1
    err = capsys.readouterr().err
    assert f"http://127.0.0.1:{port}/models/tiny/checkpoint" in err and "gave up after" in err and "train-demo-model" in err
    assert not (dest / "tiny").exists()


def test_generate_with_nothing_to_do_never_imports_tensorflow(exhibit, models):
    """generate decides what is to do before it loads the model: a finished essay costs no TensorFlow."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    args = ["generate", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "beta", "--samples", "2", "--length", "8", "-q"]
    assert run_cli(*args) == 0  # the work, once
    code = f"import sys, build\nrc = build.main({args[:-1]!r})\nprint(rc, 'tensorflow' in sys.modules, 'gpt_2_simple' in sys.modules)\n"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.strip() == "0 False False", r.stderr
    assert "nothing to do" in r.stderr
