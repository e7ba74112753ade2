"""Model folders: round trip, and clear refusals of corrupt, truncated and mismatched folders."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from seg_testdata import make_model_folder

from SynTumorLib.segmentation import load_model
from SynTumorLib.segmentation.model_folder import sha256_file
from SynTumorLib.segmentation.networks import build_network
from SynTumorLib.utils.errors import ModelFolderError

torch.set_num_threads(1)


@pytest.fixture
def folder(tmp_path):
    return make_model_folder(tmp_path / "m")


def test_round_trip_gives_the_same_network(folder):
    lm = load_model(folder)
    torch.manual_seed(0)
    ref = build_network(lm.config.model)  # the seed used by make_model_folder
    x = torch.rand(1, 1, 16, 16, 16)
    ref.eval()
    with torch.no_grad():
        assert torch.equal(lm.net(x), ref(x))
    assert lm.card["weights_sha256"] == sha256_file(folder / "model.safetensors")
    assert "weights sha256" in (folder / "model_card.md").read_text()
    assert not lm.net.training


def test_missing_files_and_not_a_folder(folder, tmp_path):
    with pytest.raises(ModelFolderError, match="not found"):
        load_model(tmp_path / "nope")
    (folder / "model_card.json").unlink()
    with pytest.raises(ModelFolderError, match="missing model_card.json"):
        load_model(folder)


def test_corrupt_weights_fail_the_hash(folder):
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFolderError, match="sha256 .* differs"):
        load_model(folder)


def test_truncated_weights_are_refused_even_with_a_matching_hash(folder):
    w = folder / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-100])
    card = json.loads((folder / "model_card.json").read_text())
    card["weights_sha256"] = sha256_file(w)  # someone "fixed" the hash: the file is still truncated
    (folder / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelFolderError, match="cannot be read"):
        load_model(folder)


def test_weights_of_another_architecture_are_refused(folder, tmp_path):
    other = make_model_folder(tmp_path / "other", channels=(4, 8, 32))
    shutil.copy(other / "model.safetensors", folder / "model.safetensors")
    shutil.copy(other / "model_card.json", folder / "model_card.json")  # hash matches the copied weights
    with pytest.raises(ModelFolderError, match="differ in shape"):
        load_model(folder)
    deeper = make_model_folder(tmp_path / "deeper", channels=(4, 8, 16, 32))
    shutil.copy(deeper / "model.safetensors", folder / "model.safetensors")
    shutil.copy(deeper / "model_card.json", folder / "model_card.json")
    with pytest.raises(ModelFolderError, match="do not match the 'unet' architecture"):
        load_model(folder)


def test_broken_config_is_a_model_folder_error(folder):
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="unreadable"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps({"data": {"real": "x"}, "mystery": 1}))
    with pytest.raises(ModelFolderError, match="unknown key"):
        load_model(folder)
