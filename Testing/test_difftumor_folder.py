"""DiffTumor's released files → a ``difftumor-texture`` model folder: import, verify, load (random weights)."""

from __future__ import annotations

import json

import pytest
import torch
from _difftumor_tiny import UNET_ARGS, VQ_ARGS, released_files, tiny_networks, tiny_texture_folder

from SynTumorLib.runtime.model_folder import inspect_model_folder
from SynTumorLib.texture.difftumor import LICENCE_NOTICE
from SynTumorLib.texture.difftumor.folder import (
    KIND,
    import_difftumor_texture,
    load_difftumor_texture,
    verify_difftumor_texture,
    write_difftumor_texture,
)
from SynTumorLib.texture.difftumor.loaders import file_facts
from SynTumorLib.utils.errors import InputError, ModelFolderError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return released_files(tmp_path_factory.mktemp("difftumor"))


@pytest.fixture(scope="module")
def imported(sources, tmp_path_factory):
    return import_difftumor_texture(sources["autoencoder"], sources["early"], sources["noearly"], organ="pancreas",
                                    out=tmp_path_factory.mktemp("out") / "pancreas")


def test_import_writes_a_checked_folder_with_the_card_facts(imported, sources):
    card = json.loads((imported / "model_card.json").read_text())
    assert card["kind"] == KIND and card["config"]["organ"] == "pancreas"
    assert card["licence"] == LICENCE_NOTICE and card["provenance"]["source"] == "imported"
    rec = card["config"]["recipes"]
    assert (rec["early"]["T"], rec["early"]["steps"], rec["early"]["clamp_x0"]) == (4, 4, True)
    assert (rec["noearly"]["T"], rec["noearly"]["steps"], rec["noearly"]["clamp_x0"]) == (200, 50, False)
    assert card["config"]["size_class_recipe"] == {"tiny": "early", "small": "early", "medium": "noearly",
                                                   "large": "noearly"}
    by_role = {s["role"]: s for s in card["sources"]}
    for role in ("autoencoder", "early", "noearly"):
        facts = file_facts(sources[role])
        assert {k: by_role[role][k] for k in ("file", "size", "sha256")} == facts
    assert card["vqgan_copies"]["early"]["identical"] and card["vqgan_copies"]["noearly"]["identical"]
    summary = verify_difftumor_texture(imported)
    assert summary["ok"] and summary["recipes"] == ["early", "noearly"]
    assert summary["tensors_checked"] == 71 + 300 + 12 + 300 + 12  # no vqgan_early: the copies are identical
    syn, loaded = load_difftumor_texture(imported)
    assert loaded["model_sha256"] == summary["sha256"] == inspect_model_folder(imported).sha256
    assert syn.vqgan_early is syn.vqgan and syn.unets["early"] is not None and syn.unets["noearly"] is not None
    from SynTumorLib.texture import get_texture

    tex = get_texture(imported)  # the registry reads the card's kind: the DiffTumor backend, 96 mm crops
    assert tex.name == "difftumor" and tex.crop_size == 96 and tex.sha256 == summary["sha256"]


def test_a_differing_early_vqgan_copy_is_kept_and_recorded(tmp_path):
    src = released_files(tmp_path / "src", recipes=("early",), early_vqgan_offset=0.25)
    out = import_difftumor_texture(src["autoencoder"], early=src["early"], organ="pancreas", out=tmp_path / "m")
    card = json.loads((out / "model_card.json").read_text())
    assert card["vqgan_copies"]["early"]["max_abs_diff"] == pytest.approx(0.25)
    assert card["vqgan_copies"]["early"]["worst_key"] == "post_vq_conv.conv.bias"
    assert "vqgan_early" in card["architecture"] and "noearly" not in card["config"]["recipes"]
    assert set(card["config"]["size_class_recipe"].values()) == {"early"}  # one model serves every class
    syn, _ = load_difftumor_texture(out)
    diff = syn.vqgan_early.post_vq_conv.conv.bias - syn.vqgan.post_vq_conv.conv.bias
    assert torch.allclose(diff, torch.full_like(diff, 0.25))


def test_import_refuses_bad_requests(sources, tmp_path):
    with pytest.raises(InputError, match="at least one"):
        import_difftumor_texture(sources["autoencoder"], organ="pancreas", out=tmp_path / "a")
    with pytest.raises(InputError, match="unknown organ"):
        import_difftumor_texture(sources["autoencoder"], sources["early"], organ="lung", out=tmp_path / "b")
    with pytest.raises(InputError, match="pancreas_early.pt: the file name says pancreas, but --organ is liver"):
        import_difftumor_texture(sources["autoencoder"], sources["early"], organ="liver", out=tmp_path / "c")
    with pytest.raises(InputError, match=r"pancreas_noearly\.pt: this is a non-early \(T = 200\) model"):
        import_difftumor_texture(sources["autoencoder"], early=sources["noearly"], organ="pancreas", out=tmp_path / "d")
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_verify_names_a_tampered_file(tmp_path):
    d = tiny_texture_folder(tmp_path / "m", crop_size=16)
    verify_difftumor_texture(d)
    raw = bytearray((d / "model.safetensors").read_bytes())
    raw[-3] ^= 0xFF
    (d / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFolderError, match=r"model\.safetensors: SHA-256 .* differs"):
        verify_difftumor_texture(d)
    with pytest.raises(ModelFolderError, match=r"model\.safetensors"):
        load_difftumor_texture(d)


def test_verify_names_a_missing_or_misshapen_key(tmp_path):
    vq, early, _ = tiny_networks()
    missing = {k: v for k, v in early.items() if k != "final_conv.1.weight"}
    d = write_difftumor_texture(tmp_path / "missing", organ="pancreas", vqgan=vq, vqgan_args=VQ_ARGS,
                                denoisers={"early": (missing, UNET_ARGS, None)}, crop_size=16)
    with pytest.raises(ModelFolderError, match=r"missing/model\.safetensors: .*'early\.'.*missing key.*final_conv\.1\.weight"):
        verify_difftumor_texture(d)
    bad = {**vq, "pre_vq_conv.conv.weight": torch.zeros(8, 3, 1, 1, 1)}
    d = write_difftumor_texture(tmp_path / "shape", organ="pancreas", vqgan=bad, vqgan_args=VQ_ARGS,
                                denoisers={"early": (early, UNET_ARGS, None)}, crop_size=16)
    with pytest.raises(ModelFolderError, match=r"shape/model\.safetensors: .*'vqgan\.'.*'pre_vq_conv\.conv\.weight' has shape"):
        load_difftumor_texture(d)


def test_verify_checks_the_card(tmp_path):
    d = tiny_texture_folder(tmp_path / "m", crop_size=16, recipes=("early",))
    card_path = d / "model_card.json"
    card = json.loads(card_path.read_text())
    for change, pattern in ((lambda c: c["config"].update(organ="lung"), "organ 'lung'"),
                            (lambda c: c["config"]["size_class_recipe"].update(large="noearly"),
                             r"size_class_recipe uses \{'large': 'noearly'\}"),
                            (lambda c: c.update(sources=[{"file": "x"}]), "'sources' must list"),
                            (lambda c: c.update(kind="texture-denoiser"), "expected 'difftumor-texture'")):
        broken = json.loads(json.dumps(card))
        change(broken)
        card_path.write_text(json.dumps(broken))
        with pytest.raises(ModelFolderError, match=pattern) as e:
            verify_difftumor_texture(d)
        assert "model_card.json" in str(e.value)
    card_path.write_text(json.dumps(card))
    assert verify_difftumor_texture(d)["ok"]


def test_writer_refuses_nonsense(tmp_path):
    vq, early, _ = tiny_networks()
    with pytest.raises(InputError, match="early and/or a non-early"):
        write_difftumor_texture(tmp_path / "a", organ="pancreas", vqgan=vq, denoisers={})
    with pytest.raises(InputError, match="multiple of 8"):
        write_difftumor_texture(tmp_path / "b", organ="pancreas", vqgan=vq, denoisers={"early": (early, UNET_ARGS, None)},
                                crop_size=20)
