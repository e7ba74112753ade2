"""Model folders: round trip, and clear refusals of corrupt, truncated and mismatched folders."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from builders import make_model_folder

from SynTumorLib.segmentation import load_model
from SynTumorLib.segmentation.networks import build_network
from SynTumorLib.utils.errors import ModelFolderError
from SynTumorLib.utils.hashing import sha256_file

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
    assert lm.card["kind"] == "segmenter" and lm.card["architecture"] == lm.config.model
    assert lm.card["files"]["model.safetensors"] == sha256_file(folder / "model.safetensors")
    assert lm.card["files"]["splits.json"] == sha256_file(folder / "splits.json")
    assert "weights sha256" in (folder / "model_card.md").read_text()
    assert not (folder / "config.json").exists()  # the card holds the config
    assert not lm.net.training


def test_missing_files_and_not_a_folder(folder, tmp_path):
    with pytest.raises(ModelFolderError, match="not found"):
        load_model(tmp_path / "nope")
    (folder / "model_card.json").unlink()
    with pytest.raises(ModelFolderError, match=r"m/model_card\.json: missing"):
        load_model(folder)


def test_corrupt_weights_fail_the_hash(folder):
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFolderError, match=r"model\.safetensors: SHA-256 .* differs"):
        load_model(folder)


def test_truncated_weights_are_refused_even_with_a_matching_hash(folder):
    w = folder / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-100])
    card = json.loads((folder / "model_card.json").read_text())
    card["files"]["model.safetensors"] = sha256_file(w)  # someone "fixed" the hash: the file is still truncated
    (folder / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelFolderError, match="cannot be read"):
        load_model(folder)


def _swap_weights(folder, other):
    """Put ``other``'s weights into ``folder`` and record their hash (the card still says this architecture)."""
    shutil.copy(other / "model.safetensors", folder / "model.safetensors")
    card = json.loads((folder / "model_card.json").read_text())
    card["files"]["model.safetensors"] = sha256_file(folder / "model.safetensors")
    (folder / "model_card.json").write_text(json.dumps(card))


def test_weights_of_another_architecture_are_refused(folder, tmp_path):
    _swap_weights(folder, make_model_folder(tmp_path / "other", channels=(4, 8, 32)))
    with pytest.raises(ModelFolderError, match=r"m/model\.safetensors: weights do not match .* in the file, .* in the network"):
        load_model(folder)
    _swap_weights(folder, make_model_folder(tmp_path / "deeper", channels=(4, 8, 16, 32)))
    with pytest.raises(ModelFolderError, match=r"m/model\.safetensors: weights do not match the architecture.*unexpected"):
        load_model(folder)


def test_broken_config_is_a_model_folder_error(folder):
    card = json.loads((folder / "model_card.json").read_text())
    (folder / "model_card.json").write_text(json.dumps({**card, "config": {"data": {"real": "x"}, "mystery": 1}}))
    with pytest.raises(ModelFolderError, match="unknown key 'mystery'"):
        load_model(folder)
    (folder / "model_card.json").write_text(json.dumps({**card, "config": {**card["config"], "spacing": None}}))
    with pytest.raises(ModelFolderError, match="spacing is unresolved"):
        load_model(folder)
    (folder / "model_card.json").write_text(json.dumps({**card, "architecture": {"name": "vnet"}}))
    with pytest.raises(ModelFolderError, match="cannot build the network"):
        load_model(folder)
