"""The consented model download, against a local HTTP server on 127.0.0.1 (never the internet):
consent refused → nothing written, progress on stderr, resume with Range after a truncated attempt,
SHA-256 recorded and checked, errors naming the URL."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
from model_server import DATA, OTHER, Server, catalogue_for, models_cli, released_unet_bytes

from SynTumorLib.models.catalogue import load_catalogue
from SynTumorLib.models.download import ConsentRefused, DownloadError, download_model


@pytest.fixture
def server():
    s = Server()
    s.files = {"seg/model_a.pt": DATA, "tex/ae.ckpt": OTHER, "tex/early.pt": DATA}
    yield s
    s.close()


_cli = models_cli


def test_consent_refused_writes_nothing_and_asks_nothing_of_the_server(capsys, tmp_path, server):
    cat = catalogue_for(tmp_path, server.url)
    shown = []
    with pytest.raises(ConsentRefused, match="declined; nothing written"):
        download_model("tiny-seg", tmp_path / "out", consent=lambda text: shown.append(text) or False, catalogue=cat)
    assert not (tmp_path / "out").exists() and server.requests == []
    assert "tiny-seg" in shown[0] and "1.0 MB" in shown[0] and "Test-Licence-1.0" in shown[0]
    with pytest.raises(ConsentRefused):
        download_model("tiny-seg", tmp_path / "out", consent="yes", catalogue=cat)  # only True or a callable agree
    # the CLI: the same text on stderr, "n" (or end of input) declines, exit code 1, nothing written
    for answer in ("n\n", ""):
        r = _cli(capsys, "download", "tiny-seg", "--out", tmp_path / "cli", "--catalogue", cat, stdin=answer)
        assert r.returncode == 1, r.stderr
        assert "Test-Licence-1.0" in r.stderr and "[y/N]" in r.stderr and "declined" in r.stderr
        assert not (tmp_path / "cli").exists()
    assert server.requests == []


def test_download_with_yes_records_the_sha_and_shows_progress_on_stderr(capsys, tmp_path, server):
    cat = catalogue_for(tmp_path, server.url)
    r = _cli(capsys, "download", "tiny-tex", "--out", tmp_path / "dl", "--catalogue", cat, "--yes")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dl" / "ae.ckpt").read_bytes() == OTHER and (tmp_path / "dl" / "early.pt").read_bytes() == DATA
    assert "downloading" in r.stderr and "100.0 %" in r.stderr and "early.pt" in r.stderr
    assert r.stdout.split()[:2] == [str(tmp_path / "dl" / "ae.ckpt"), str(tmp_path / "dl" / "early.pt")]
    rec = json.loads((tmp_path / "dl" / "download.json").read_text())
    assert [f["sha256"] for f in rec["files"]] == [hashlib.sha256(OTHER).hexdigest(), hashlib.sha256(DATA).hexdigest()]
    assert rec["licence"]["weights"] == "Test-Licence-1.0" and not any(f["verified"] for f in rec["files"])
    assert not list((tmp_path / "dl").glob("*.part"))
    # the interactive "y" agrees too; files already there with their recorded SHA-256 are not fetched again
    n = len(server.requests)
    r = _cli(capsys, "download", "tiny-tex", "--out", tmp_path / "dl", "--catalogue", cat, stdin="y\n")
    assert r.returncode == 0, r.stderr
    assert len(server.requests) == n and "already downloaded" in r.stderr


def test_truncated_first_attempt_resumes_with_range(tmp_path, server):
    sha = hashlib.sha256(DATA).hexdigest()
    cat = catalogue_for(tmp_path, server.url, sha=sha)
    server.truncate.add("seg/model_a.pt")
    with pytest.raises(DownloadError, match=r"seg/model_a\.pt: (incomplete|interrupted).*run the download again"):
        download_model("tiny-seg", tmp_path / "out", consent=True, catalogue=cat)
    part = tmp_path / "out" / "model_a.pt.part"
    assert part.is_file() and 0 < part.stat().st_size < len(DATA) and not (tmp_path / "out" / "model_a.pt").exists()
    half = part.stat().st_size
    fractions = []
    paths = download_model("tiny-seg", tmp_path / "out", consent=True, catalogue=cat,
                           progress=lambda f, m="": fractions.append(f))
    assert server.requests[-1] == ("seg/model_a.pt", f"bytes={half}-")  # only the missing bytes were asked for
    assert paths[0].read_bytes() == DATA and not part.exists()
    assert fractions[-1] == 1.0 and fractions == sorted(fractions) and fractions[0] >= half / len(DATA) - 1e-9
    rec = json.loads((tmp_path / "out" / "download.json").read_text())
    assert rec["files"][0]["sha256"] == sha and rec["files"][0]["verified"] is True


def test_a_failure_on_the_second_file_keeps_the_first_recorded(tmp_path, server):
    cat = catalogue_for(tmp_path, server.url)
    early = server.files.pop("tex/early.pt")
    with pytest.raises(DownloadError, match=r"tex/early\.pt: HTTP 404"):
        download_model("tiny-tex", tmp_path / "out", consent=True, catalogue=cat)
    rec = json.loads((tmp_path / "out" / "download.json").read_text())
    assert [f["file"] for f in rec["files"]] == ["ae.ckpt"]
    server.files["tex/early.pt"] = early
    server.requests.clear()
    download_model("tiny-tex", tmp_path / "out", consent=True, catalogue=cat)
    assert [p for p, _ in server.requests] == ["tex/early.pt"]  # the first file was not fetched again
    rec = json.loads((tmp_path / "out" / "download.json").read_text())
    assert [f["file"] for f in rec["files"]] == ["ae.ckpt", "early.pt"]


def test_a_server_ignoring_range_restarts_the_part(tmp_path, server):
    cat = catalogue_for(tmp_path, server.url)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model_a.pt.part").write_bytes(b"garbage from elsewhere")
    server.ignore_range = True
    download_model("tiny-seg", tmp_path / "out", consent=True, catalogue=cat)
    assert (tmp_path / "out" / "model_a.pt").read_bytes() == DATA


def test_sha_mismatch_is_an_error_and_leaves_no_file(tmp_path, server):
    cat = catalogue_for(tmp_path, server.url, sha="0" * 64)
    with pytest.raises(DownloadError, match=r"model_a\.pt: SHA-256 .* differs from the published 0000"):
        download_model("tiny-seg", tmp_path / "out", consent=True, catalogue=cat)
    assert not (tmp_path / "out" / "model_a.pt").exists() and not (tmp_path / "out" / "model_a.pt.part").exists()
    assert not (tmp_path / "out" / "download.json").exists()


def test_a_size_other_than_the_catalogues_is_an_error(tmp_path, server):
    cat = catalogue_for(tmp_path, server.url, size=len(DATA) + 1)
    with pytest.raises(DownloadError, match=r"model_a\.pt: 1024000 bytes received, the catalogue says 1024001"):
        download_model("tiny-seg", tmp_path / "out", consent=True, catalogue=cat)
    assert not list((tmp_path / "out").iterdir())


def test_http_errors_and_unreachable_hosts_name_the_url(capsys, tmp_path, server):
    cat = catalogue_for(tmp_path, server.url)
    with pytest.raises(DownloadError, match=r"seg/nope\.pt: HTTP 404"):
        download_model("missing", tmp_path / "a", consent=True, catalogue=cat)
    with pytest.raises(DownloadError, match=r"http://127\.0\.0\.1:9/seg/model_a\.pt: cannot connect"):
        download_model("tiny-seg", tmp_path / "b", consent=True, catalogue=cat, base_url="http://127.0.0.1:9")
    r = _cli(capsys, "download", "missing", "--out", tmp_path / "c", "--catalogue", cat, "--yes")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].endswith("HTTP 404 Not Found")


def test_base_url_override_by_environment(tmp_path, server, monkeypatch):
    cat = catalogue_for(tmp_path, "https://example.invalid/never")
    monkeypatch.setenv("SYNTUMOR_MODELS_BASE_URL", server.url)
    monkeypatch.setenv("SYNTUMOR_MODELS_CATALOGUE", str(cat))
    entry = load_catalogue().get("tiny-seg")
    assert entry.files[0].url() == f"{server.url}/seg/model_a.pt"
    download_model("tiny-seg", tmp_path / "out", consent=True)
    assert (tmp_path / "out" / "model_a.pt").read_bytes() == DATA


def test_download_then_import_a_released_segmenter(capsys, tmp_path, server):
    """End to end: a released-layout U-Net served locally → --import-to → a verified model folder."""
    import io

    import numpy as np
    import torch

    from SynTumorLib.segmentation.difftumor_segmenters import build_released_network

    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save({"epoch": 3, "best_acc": np.float64(0.5), "state_dict": build_released_network("unet").state_dict()}, buf)
    server.files["seg/model_a.pt"] = buf.getvalue()
    cat = catalogue_for(tmp_path, server.url, size=None)
    r = _cli(capsys, "download", "tiny-seg", "--out", tmp_path / "dl", "--catalogue", cat, "--yes",
             "--import-to", tmp_path / "model")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == str(tmp_path / "model")
    r = _cli(capsys, "verify", tmp_path / "model", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["architecture"] == "unet" and summary["source"]["sha256"] == hashlib.sha256(buf.getvalue()).hexdigest()


# ---------------------------------------------------------------------- the Slicer panels' offer (Qt-free parts)
class _Panel:
    """What offerDownload needs of a ParameterNodeWidget: showStatus and startJob."""

    def __init__(self):
        self.status, self.jobs = "", []

    def showStatus(self, text):  # noqa: N802 - the widget's API
        self.status = text

    def startJob(self, job, onSuccess, busyText, failText):  # noqa: N802
        self.jobs.append((job, onSuccess, busyText))


def test_the_panel_offer_asks_first_and_downloads_in_the_worker(tmp_path, server, monkeypatch):
    import slicer_harness  # noqa: F401  (SynTumorCommon on sys.path)
    from SynTumorCommon import model_download as md

    server.files["seg/model_a.pt"] = released_unet_bytes()
    monkeypatch.setenv("SYNTUMOR_MODELS_CATALOGUE", str(catalogue_for(tmp_path, server.url, size=None)))
    assert md.choices("segmenter") == ["tiny-seg", "missing"] and md.choices("texture") == ["tiny-tex"]
    panel, asked = _Panel(), []
    # declined: a status line, no worker, nothing written, no request
    started = md.offerDownload(panel, "segmenter", lambda f: None, choose=lambda t, names: names[0],
                               ask=lambda t, text: asked.append(text) or False, folder=tmp_path / "models")
    assert not started and panel.jobs == [] and "declined" in panel.status and not (tmp_path / "models").exists()
    assert "Test-Licence-1.0" in asked[0] and str(tmp_path / "models" / "tiny-seg") in asked[0]
    assert not md.offerDownload(panel, "segmenter", lambda f: None, choose=lambda t, names: None, ask=lambda t, x: True)
    with pytest.raises(ConsentRefused):
        md.downloadJob("tiny-seg", consented=False, folder=tmp_path / "models")
    assert server.requests == []
    # agreed: the worker's download task fetches and imports; the panel gets the model folder
    got = []
    assert md.offerDownload(panel, "segmenter", got.append, choose=lambda t, names: "tiny-seg", ask=lambda t, x: True,
                            folder=tmp_path / "models")
    job, on_success, busy = panel.jobs[0]
    assert "tiny-seg" in busy and json.loads((job.folder / "args.json").read_text())["consented"] is True
    job.run(timeout_s=300)
    job.check()
    on_success(job)
    assert got == [tmp_path / "models" / "tiny-seg"]
    from SynTumorLib.models.install import verify_model_folder

    assert verify_model_folder(got[0])["architecture"] == "unet"
    assert (tmp_path / "models" / "downloads" / "tiny-seg" / "download.json").is_file()
    job.cleanup()


def test_the_worker_refuses_a_download_without_consent(tmp_path, server, monkeypatch):
    import slicer_harness  # noqa: F401
    from SynTumorCommon.worker import WorkerJob

    monkeypatch.setenv("SYNTUMOR_MODELS_CATALOGUE", str(catalogue_for(tmp_path, server.url)))
    job = WorkerJob.forTask("download", tmp_path / "job", {"name": "tiny-seg", "downloads": str(tmp_path / "d"),
                                                           "out": str(tmp_path / "m")}, python=sys.executable)
    from SynTumorLib.utils.errors import SynTumorError

    with pytest.raises(SynTumorError, match="declined; nothing written"):
        job.run(timeout_s=120)
    assert job.returncode == 2
    assert not (tmp_path / "d").exists() and server.requests == []
