"""A download server on 127.0.0.1 for the model-download tests (files with HTTP Range support, a
request log, injectable failures) and a catalogue pointing at it. Tests never touch the internet."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = bytes(range(256)) * 4000  # 1 MB: the downloader reads in 1 MiB blocks, so resumes cross a block
OTHER = b"second file " * 1000


class Server:
    """Serves ``files`` (path → bytes) with HTTP Range; ``truncate`` paths send half once, then close."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep the test output clean
                pass

            def do_GET(self):  # noqa: N802 - http.server's API
                path = self.path.lstrip("/")
                rng = self.headers.get("Range")
                server.requests.append((path, rng))
                body = server.files.get(path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if rng and not server.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if path in server.truncate:
                    server.truncate.discard(path)
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def catalogue_for(tmp_path: Path, base_url: str, sha: str | None = None, size: int | None = len(DATA)) -> Path:
    lic = {"weights": "Test-Licence-1.0", "code": "code terms", "notice": "a notice to read"}
    cat = {"format": "syntumor-model-catalogue", "format_version": 1,
           "sources": {"local": {"base_url": base_url, "page": base_url + "/page", "licence": lic}},
           "models": [
               {"name": "tiny-seg", "kind": "difftumor-segmenter", "organ": "pancreas", "architecture": "unet",
                "source": "local", "description": "a test file",
                "files": [{"path": "seg/model_a.pt", "role": "checkpoint", "size_bytes": size,
                           "size_approx_bytes": len(DATA), "sha256": sha}]},
               {"name": "tiny-tex", "kind": "difftumor-texture", "organ": "pancreas", "source": "local",
                "files": [{"path": "tex/ae.ckpt", "role": "autoencoder", "size_approx_bytes": 12000},
                          {"path": "tex/early.pt", "role": "early", "size_approx_bytes": len(DATA)}]},
               {"name": "missing", "kind": "difftumor-segmenter", "organ": "pancreas", "source": "local",
                "files": [{"path": "seg/nope.pt", "role": "checkpoint"}]}]}
    p = tmp_path / "catalogue.json"
    p.write_text(json.dumps(cat))
    return p


def released_unet_bytes() -> bytes:
    import io

    import numpy as np
    import torch

    from SynTumorLib.segmentation.difftumor_segmenters import build_released_network

    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save({"epoch": 3, "best_acc": np.float64(0.5), "state_dict": build_released_network("unet").state_dict()}, buf)
    return buf.getvalue()


def models_cli(capsys, *args, stdin: str = ""):
    """``syntumor models ARGS`` in this process (a subprocess pays seconds of imports per call)."""
    import io
    from types import SimpleNamespace

    from SynTumorLib.cli.main import main

    capsys.readouterr()
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        rc = main(["models", *map(str, args)])
    finally:
        sys.stdin = saved
    out = capsys.readouterr()
    return SimpleNamespace(returncode=rc, stdout=out.out, stderr=out.err)
