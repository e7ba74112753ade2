"""The one model-folder format (SynTumorLib.runtime.model_folder): round trip, identity, provenance of
imported models, a clear error naming the file for every kind of damage, and the migration of the
folders the previous release wrote (Testing/data/model_folders_v1, made by its make_legacy.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from SynTumorLib.runtime.model_folder import (
    FORMAT_VERSION,
    inspect_model_folder,
    load_into,
    load_model_folder,
    model_sha256,
    prefixed,
    write_model_folder,
)
from SynTumorLib.utils.errors import ModelFolderError
from SynTumorLib.utils.hashing import sha256_file

torch.set_num_threads(1)
V1 = Path(__file__).parent / "data" / "model_folders_v1"
EXPECTED = json.loads((V1 / "expected.json").read_text())


def _write(folder, kind="texture-autoencoder", **kw):
    net = torch.nn.Linear(3, 2)
    torch.nn.init.constant_(net.weight, 0.5)
    torch.nn.init.constant_(net.bias, -1.0)
    args = {"architecture": {"name": "linear", "in": 3, "out": 2}, "config": {"seed": 1},
            "tensors": prefixed("net", net), "extra_files": {"notes.txt": "hello\n"}, **kw}
    return write_model_folder(folder, kind, **args), net


def test_round_trip_card_and_identity(tmp_path):
    folder, net = _write(tmp_path / "a", steps=3, training_data={"cases": ["c0"]})
    mf = load_model_folder(folder, "texture-autoencoder")
    card = json.loads((folder / "model_card.json").read_text())
    assert card["format"] == "syntumor-model" and card["format_version"] == FORMAT_VERSION
    assert set(card["files"]) == {"model.safetensors", "notes.txt"}
    assert all(sha256_file(folder / f) == h for f, h in card["files"].items())
    assert card["provenance"] == {"source": "trained"} and card["steps"] == 3 and card["library_version"]
    other = torch.nn.Linear(3, 2)
    load_into(other, mf.tensors, "net", folder)
    assert torch.equal(other.weight, net.weight) and mf.migrated_from is None
    # identity: what decides the outputs, not when the folder was written; weights files are identical
    again, _ = _write(tmp_path / "b", steps=3, training_data={"cases": ["c0"]})
    assert model_sha256(again) == mf.sha256
    assert sha256_file(again / "model.safetensors") == sha256_file(folder / "model.safetensors")
    changed, _ = _write(tmp_path / "c", config={"seed": 2})
    assert model_sha256(changed) != mf.sha256


def test_an_imported_model_says_where_it_came_from(tmp_path):
    src = tmp_path / "AutoencoderModel.ckpt"
    src.write_bytes(b"original checkpoint bytes")
    provenance = {"source": "imported", "imported_from": [{"file": src.name, "sha256": sha256_file(src)}],
                  "licence": "CC BY-NC-ND 4.0 (the original authors' weights)", "notice": "converted, not retrained"}
    folder, _ = _write(tmp_path / "imp", kind="texture-denoiser", provenance=provenance)
    card = inspect_model_folder(folder, "texture-denoiser").card
    assert card["provenance"]["imported_from"][0]["sha256"] == hashlib.sha256(b"original checkpoint bytes").hexdigest()
    assert card["provenance"]["licence"].startswith("CC BY-NC-ND")


def _card(folder: Path) -> dict:
    return json.loads((folder / "model_card.json").read_text())


def _set_card(folder: Path, **changes) -> None:
    (folder / "model_card.json").write_text(json.dumps({**_card(folder), **changes}))


def test_every_damage_is_a_clear_error_naming_the_file(tmp_path):
    folder, net = _write(tmp_path / "m")
    with pytest.raises(ModelFolderError, match="nothing: model folder not found"):
        load_model_folder(tmp_path / "nothing", "texture-autoencoder")
    with pytest.raises(ModelFolderError, match=r"m/model_card\.json: holds a 'texture-autoencoder' model, expected 'segmenter'"):
        load_model_folder(folder, "segmenter")
    w = folder / "model.safetensors"
    good = w.read_bytes()
    w.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelFolderError, match=r"m/model\.safetensors: SHA-256 .* differs .* \(corrupt, truncated"):
        load_model_folder(folder, "texture-autoencoder")
    _set_card(folder, files={**_card(folder)["files"], "model.safetensors": sha256_file(w)})  # hash "fixed"
    with pytest.raises(ModelFolderError, match=r"m/model\.safetensors: cannot be read"):
        load_model_folder(folder, "texture-autoencoder")
    w.write_bytes(good)
    _set_card(folder, files={**_card(folder)["files"], "model.safetensors": sha256_file(w)})
    (folder / "notes.txt").unlink()
    with pytest.raises(ModelFolderError, match=r"m/notes\.txt: missing \(listed in model_card\.json\)"):
        load_model_folder(folder, "texture-autoencoder")
    (folder / "notes.txt").write_text("hello\n")
    load_model_folder(folder, "texture-autoencoder")  # repaired
    for change, match in [({"kind": "vae"}, r"unknown model kind 'vae'"),
                          ({"format_version": 3}, r"format version 3 is not supported"),
                          ({"format": "someone-else/7"}, r"unknown model format 'someone-else/7'")]:
        saved = _card(folder)
        _set_card(folder, **change)
        with pytest.raises(ModelFolderError, match=r"m/model_card\.json: " + match):
            load_model_folder(folder, None if "kind" in change else "texture-autoencoder")
        (folder / "model_card.json").write_text(json.dumps(saved))
    (folder / "model_card.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match=r"m/model_card\.json: unreadable or not valid JSON"):
        load_model_folder(folder, "texture-autoencoder")
    (folder / "model_card.json").unlink()
    with pytest.raises(ModelFolderError, match=r"m/model_card\.json: missing"):
        load_model_folder(folder, "texture-autoencoder")


def test_weights_that_do_not_fit_the_architecture_name_the_weights_file(tmp_path):
    folder, _ = _write(tmp_path / "m")
    mf = load_model_folder(folder, "texture-autoencoder")
    with pytest.raises(ModelFolderError, match=r"m/model\.safetensors: weights 'net' do not match the architecture.*"
                                               r"weight: shape \(2, 3\) in the file, \(4, 3\) in the network"):
        load_into(torch.nn.Linear(3, 4), mf.tensors, "net", folder)
    with pytest.raises(ModelFolderError, match=r"2 missing \(e.g. 0.weight\); 2 unexpected \(e.g. bias\)"):
        load_into(torch.nn.Sequential(torch.nn.Linear(3, 2)), mf.tensors, "net", folder)


# ---------------------------------------------------------------------------- the previous release's folders
def _copy_v1(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(V1 / name, tmp_path / name))


def test_v1_segmenter_folder_loads_and_predicts_exactly_as_before(tmp_path):
    from builders import make_tiny_ct

    from SynTumorLib.segmentation import load_model, predict_volume

    folder = _copy_v1(tmp_path, "segmenter")
    before = {p.name: sha256_file(p) for p in folder.iterdir()}
    lm = load_model(folder)
    assert lm.card["kind"] == "segmenter" and lm.card["steps"] == 2 and lm.config.model["name"] == "unet"
    assert lm.card["training_data"]["n_cases"] == {"train": 2, "val": 1, "test": 0}
    image, _ = make_tiny_ct(shape=(24, 24, 24), seed=9)
    pred = predict_volume(lm, image, device="cpu")
    assert hashlib.sha256(np.ascontiguousarray(pred.array).tobytes()).hexdigest() == \
        EXPECTED["segmenter_prediction_sha256"]
    assert {p.name: sha256_file(p) for p in folder.iterdir()} == before  # never rewritten


def test_v1_texture_folders_load_keep_their_identity_and_replay_exactly(tmp_path):
    from SynTumorLib.texture import get_texture

    ae = _copy_v1(tmp_path, "texture-autoencoder")
    dm = _copy_v1(tmp_path, "texture-denoiser")
    assert inspect_model_folder(ae, "texture-autoencoder").migrated_from == 1
    assert model_sha256(ae) == EXPECTED["autoencoder_model_sha256"]
    tex = get_texture(dm)
    assert tex.sha256 == EXPECTED["texture_model_sha256"]  # records made with it still match
    rng = np.random.default_rng(0)
    shape = (24, 28, 28)
    ct = rng.normal(60, 15, shape).astype(np.int16)
    k, j, i = np.indices(shape)
    tumour = ((k - 12) / 3.0) ** 2 + ((j - 14) / 4.0) ** 2 + ((i - 13) / 3.5) ** 2 < 1
    organ = (((k - 12) / 8.0) ** 2 + ((j - 14) / 9.0) ** 2 + ((i - 13) / 9.0) ** 2 < 1) & ~tumour
    out, params = tex.synthesize(ct, tumour, organ, (1.5, 1.0, 1.0), seed=7)
    assert params["noise_seed"] == EXPECTED["texture_record_noise_seed"]
    assert hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest() == EXPECTED["texture_output_sha256"]


def test_v1_damage_is_still_detected(tmp_path):
    dm = _copy_v1(tmp_path, "texture-denoiser")
    (dm / "VERSION").unlink()
    with pytest.raises(ModelFolderError, match=r"texture-denoiser/VERSION: missing"):
        inspect_model_folder(dm)
    ae = _copy_v1(tmp_path, "texture-autoencoder")
    cfg = json.loads((ae / "config.json").read_text())
    (ae / "config.json").write_text(json.dumps({**cfg, "seed": 99}))
    with pytest.raises(ModelFolderError, match=r"texture-autoencoder/config\.json: SHA-256 .* differs"):
        inspect_model_folder(ae)
    seg = _copy_v1(tmp_path, "segmenter")
    with pytest.raises(ModelFolderError, match="holds a 'segmenter' model, expected 'texture-denoiser'"):
        inspect_model_folder(seg, "texture-denoiser")
