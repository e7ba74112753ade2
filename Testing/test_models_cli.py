"""``syntumor models``: the catalogue and ``list``, ``import difftumor`` / ``difftumor-segmenter``, ``verify``."""

from __future__ import annotations

import json

import pytest
from model_server import models_cli

from SynTumorLib.models.catalogue import CATALOGUE, load_catalogue
from SynTumorLib.utils.errors import InputError

HF = "https://huggingface.co/MrGiovanni/DiffTumor/resolve/main/"


_cli = models_cli


def test_the_shipped_catalogue_lists_difftumors_released_files():
    cat = load_catalogue(CATALOGUE)
    urls = {f.url() for e in cat for f in e.files}
    want = {HF + "AutoencoderModel/AutoencoderModel.ckpt"}
    want |= {HF + f"DiffusionModel/{o}_{r}.pt" for o in ("pancreas", "liver", "kidney") for r in ("early", "noearly")}
    want |= {HF + f"SegmentationModel/{a}_synt_{o}_tumors.pt" for a in ("unet", "nnunet", "swinunetr")
             for o in ("pancreas", "liver", "kidney")}
    assert urls == want
    tex = cat.get("difftumor-texture-pancreas")
    assert [f.role for f in tex.files] == ["autoencoder", "early", "noearly"]
    assert tex.total_approx_bytes == (243 + 290 + 290) * 10**6
    seg = cat.get("difftumor-swinunetr-liver")
    assert seg.kind == "difftumor-segmenter" and seg.architecture == "swinunetr" and seg.organ == "liver"
    for e in cat:
        assert e.page.startswith("https://huggingface.co/MrGiovanni/DiffTumor")
        assert "Apache-2.0" in e.licence["weights"] and "CC BY-NC-ND 4.0" in e.licence["code"]
        text = e.consent_text()
        assert e.name in text and "MB" in text and "patents pending" in text
    with pytest.raises(InputError, match="did you mean difftumor-unet-pancreas"):
        cat.get("difftumor-unet-pancreass")


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["models"][0].update(kind="weird"), "unknown kind 'weird'"),
    (lambda c: c["models"][0]["files"][0].update(path="../x"), "must be relative"),
    (lambda c: c["models"][1].update(name=c["models"][0]["name"]), "listed twice"),
    (lambda c: c["models"][0]["files"][0].update(sha256="abc"), "64 hex digits"),
    (lambda c: c.update(format="other"), "not a syntumor-model-catalogue"),
])
def test_a_malformed_catalogue_is_refused_naming_the_entry(tmp_path, edit, message):
    cat = json.loads(CATALOGUE.read_text())
    edit(cat)
    (tmp_path / "c.json").write_text(json.dumps(cat))
    with pytest.raises(InputError, match=message):
        load_catalogue(tmp_path / "c.json")


def test_models_list_text_and_json(capsys):
    r = _cli(capsys, "list")
    assert r.returncode == 0, r.stderr
    assert "difftumor-texture-pancreas" in r.stdout and "≈823.0 MB" in r.stdout and "difftumor-nnunet-kidney" in r.stdout
    r = _cli(capsys, "list", "--json")
    entries = json.loads(r.stdout)
    assert len(entries) == 12 and entries[0]["files"][0]["url"] == HF + "AutoencoderModel/AutoencoderModel.ckpt"


def test_import_difftumor_segmenter_then_verify_and_predict(capsys, tmp_path):
    import io

    import numpy as np
    import torch

    from SynTumorLib.data.io import read_volume, write_volume
    from SynTumorLib.data.volume import Volume
    from SynTumorLib.segmentation.difftumor_segmenters import build_released_network

    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save({"epoch": 1, "best_acc": np.float64(0.3), "state_dict": build_released_network("dynunet").state_dict()},
               buf)
    (tmp_path / "nnunet_synt_pancreas_tumors.pt").write_bytes(buf.getvalue())
    r = _cli(capsys, "import", "difftumor-segmenter", "--checkpoint", tmp_path / "nnunet_synt_pancreas_tumors.pt",
             "--arch", "nnunet", "--organ", "pancreas", "--out", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    r = _cli(capsys, "verify", tmp_path / "m")
    assert r.returncode == 0 and "ok — difftumor-segmenter dynunet pancreas" in r.stdout, r.stderr
    # predict with a released U-Net (DynUNet's full-resolution 96³ window takes minutes on one CPU thread)
    buf = io.BytesIO()
    torch.save({"epoch": 1, "best_acc": 0.0, "state_dict": build_released_network("unet").state_dict()}, buf)
    (tmp_path / "unet.pt").write_bytes(buf.getvalue())
    r = _cli(capsys, "import", "difftumor-segmenter", "--checkpoint", tmp_path / "unet.pt", "--arch", "unet",
             "--organ", "pancreas", "--out", tmp_path / "u")
    assert r.returncode == 0, r.stderr
    ct = Volume.from_geometry(np.random.default_rng(0).normal(0, 80, (12, 14, 16)).astype(np.int16),
                              spacing=(0.9, 0.8, 2.0), direction_ras=np.diag([-1.0, -1.0, 1.0]))
    write_volume(ct, tmp_path / "ct.nii.gz")
    from SynTumorLib.cli.main import main

    assert main(["predict", "--model", str(tmp_path / "u"), "--image", str(tmp_path / "ct.nii.gz"),
                 "--out", str(tmp_path / "seg.nii.gz"), "--device", "cpu"]) == 0
    seg = read_volume(tmp_path / "seg.nii.gz")
    assert seg.shape == ct.shape and np.allclose(seg.ijk_to_ras, ct.ijk_to_ras, atol=1e-5)
    # a wrong --arch is one line naming the file, exit code 2, and no folder
    r = _cli(capsys, "import", "difftumor-segmenter", "--checkpoint", tmp_path / "nnunet_synt_pancreas_tumors.pt",
             "--arch", "unet", "--organ", "pancreas", "--out", tmp_path / "wrong")
    assert r.returncode == 2 and "dynunet network, not unet" in r.stderr and not (tmp_path / "wrong").exists()


def test_verify_refuses_a_tampered_folder_in_one_line(capsys, tmp_path):
    from _difftumor_tiny import tiny_texture_folder

    folder = tiny_texture_folder(tmp_path / "tex")
    r = _cli(capsys, "verify", folder, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "difftumor-texture"
    card = json.loads((folder / "model_card.json").read_text())
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:-3] + b"xyz")
    r = _cli(capsys, "verify", folder)
    assert r.returncode == 2 and "SHA-256" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert card["kind"] == "difftumor-texture"
    r = _cli(capsys, "verify", tmp_path / "nowhere")
    assert r.returncode == 2 and "not found" in r.stderr


def test_import_difftumor_texture_through_the_cli(capsys, tmp_path):
    from _difftumor_tiny import released_files

    paths = released_files(tmp_path / "src", recipes=("early",))
    r = _cli(capsys, "import", "difftumor", "--autoencoder", paths["autoencoder"], "--early", paths["early"],
             "--organ", "pancreas", "--out", tmp_path / "dt")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "dt")
    r = _cli(capsys, "verify", tmp_path / "dt", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["recipes"] == ["early"] and summary["organ"] == "pancreas"
    # the output may not overwrite an input
    r = _cli(capsys, "import", "difftumor", "--autoencoder", paths["autoencoder"], "--early", paths["early"],
             "--organ", "pancreas", "--out", tmp_path / "src")
    assert r.returncode == 2 and "output" in r.stderr
