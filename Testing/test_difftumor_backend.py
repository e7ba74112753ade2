"""The DiffTumor texture backend: both modes, size-class recipes, records that replay, and its four doors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _difftumor_tiny import tiny_texture_folder
from builders import ellipsoid, make_tiny_ct, oblique_direction

from SynTumorLib.texture import get_texture
from SynTumorLib.texture.difftumor.backend import DiffTumorTexture
from SynTumorLib.texture.difftumor.crop import RasCrop, kji_to_ras_matrix
from SynTumorLib.utils.errors import InputError, ModelFolderError

torch.set_num_threads(1)
SP = (2.5, 1.4, 1.4)  # k, j, i: anisotropic


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_texture_folder(tmp_path_factory.mktemp("dt") / "pancreas", crop_size=32)


@pytest.fixture(scope="module")
def oblique():
    """(kji → RAS matrix) of an oblique grid with spacing SP."""
    from SynTumorLib.data.volume import Volume

    v = Volume.from_geometry(np.zeros((2, 2, 2), np.int16), SP[::-1], (0, 0, 0), oblique_direction(25.0))
    return kji_to_ras_matrix(v.ijk_to_ras)


def _region(shape=(16, 40, 40), semi=(3.0, 4.0, 4.0), seed=0):
    rng = np.random.default_rng(seed)
    img = rng.normal(80, 20, shape).astype(np.float32)
    c = [s / 2 for s in shape]
    tumour = ellipsoid(shape, c, semi, SP)
    organ = ellipsoid(shape, c, (12.0, 16.0, 16.0), SP) & ~tumour
    return img, tumour, organ


def test_registry_picks_the_backend_by_the_card_kind(folder):
    tex = get_texture(folder)
    assert isinstance(tex, DiffTumorTexture) and tex.name == "difftumor" and tex.mode == "syntumor"
    again = get_texture(tex.describe())  # a record's texture entry rebuilds the same model
    assert again.sha256 == tex.sha256 and again.config() == tex.config()
    with pytest.raises(ModelFolderError, match="another model"):
        get_texture({"name": "difftumor", "config": {**tex.config(), "sha256": "0" * 64}})
    with pytest.raises(InputError, match="needs a model folder"):
        get_texture("difftumor")


def test_syntumor_mode_changes_only_the_feathered_tumour(folder, oblique):
    from scipy import ndimage

    tex = get_texture(folder, feather_mm=2.0)
    img, tumour, organ = _region()
    copies = [a.copy() for a in (img, tumour, organ)]
    params = tex.sample(5)
    out = tex.apply(img, tumour, organ, SP, params, kji_to_ras=oblique)
    assert all(np.array_equal(a, b) for a, b in zip(copies, (img, tumour, organ), strict=True))  # inputs untouched
    dist = ndimage.distance_transform_edt(~tumour, sampling=SP)
    far = dist > params["margin_mm"]  # beyond feather/2 = 1 mm
    assert np.array_equal(out[far], img[far])  # bit-identical, not merely close
    assert not np.array_equal(out[tumour], img[tumour])
    assert np.isfinite(out).all() and out.dtype == np.float32
    assert np.array_equal(tex.apply(img, tumour, organ, SP, json.loads(json.dumps(params)), kji_to_ras=oblique), out)


def test_reference_mode_replaces_the_whole_crop(folder, oblique):
    ref = get_texture(folder, mode="reference")
    own = get_texture(folder)
    img, tumour, organ = _region(shape=(24, 48, 48))
    pr, po = ref.sample(3), own.sample(3)
    assert pr["noise_seed"] == po["noise_seed"] and pr["mode"] == "reference"
    out_ref = ref.apply(img, tumour, organ, SP, pr, kji_to_ras=oblique)
    out_own = own.apply(img, tumour, organ, SP, po, kji_to_ras=oblique)
    inside = RasCrop.around(tumour, oblique, 32).inside(img.shape)
    assert np.array_equal(out_ref[~inside], img[~inside])  # outside the 32 mm cube: untouched
    changed = out_ref != img
    assert changed[inside].mean() > 0.99  # the whole cube is the decoded crop, tumour or not
    assert (out_own != img)[inside & ~tumour].mean() < 0.2  # syntumor mode leaves the surroundings
    # deep in the tumour the feather weight is 1: both modes paste the same synthesised voxels
    from scipy import ndimage

    core = ndimage.distance_transform_edt(tumour, sampling=SP) > 1.5
    assert core.any() and np.array_equal(out_ref[core], out_own[core])
    assert ref.margin_mm() > 27.0 and ref.context_mm() == 0.0  # the insertion's region covers the cube


def test_recipe_follows_the_size_class(folder, oblique, monkeypatch):
    tex = get_texture(folder)
    small = ellipsoid((16, 40, 40), (8, 20, 20), (2.0, 2.0, 2.0), SP)  # r_eq ≈ 2 mm: tiny
    large = ellipsoid((16, 40, 40), (8, 20, 20), (14.0, 14.0, 14.0), SP)  # r_eq ≈ 13 mm: large
    p = tex.sample(1)
    assert tex.recipe_for(small, SP, p) == ("tiny", "early")
    assert tex.recipe_for(large, SP, p) == ("large", "noearly")
    custom = get_texture(folder, size_class_recipe={"tiny": "noearly"})
    assert custom.recipe_for(small, SP, custom.sample(1)) == ("tiny", "noearly")
    forced = get_texture(folder, recipe="early")
    assert forced.recipe_for(large, SP, forced.sample(1)) == ("large", "early")
    # the recipe chosen is the one the synthesizer runs
    seen = []
    real = tex.synth.synthesize
    monkeypatch.setattr(tex.synth, "synthesize", lambda *a, **k: seen.append(a[2]) or real(*a, **k))
    img = np.full(small.shape, 60.0, np.float32)
    tex.apply(img, small, ~small, SP, p, kji_to_ras=oblique)
    tex.apply(img, large, ~large, SP, {**p, "ddim_steps": 3}, kji_to_ras=oblique)
    assert seen == ["early", "noearly"]
    with pytest.raises(InputError, match="holds only early"):
        get_texture(tiny_texture_folder(folder.parent / "early_only", crop_size=32, recipes=("early",)),
                    size_class_recipe={"large": "noearly"})
    with pytest.raises(InputError, match="mode must be one of"):
        get_texture(folder, mode="paste")


def test_record_replays_bit_identically_on_an_oblique_anisotropic_ct(folder):
    from SynTumorLib.insertion import insert_tumours, replay

    image, label = make_tiny_ct(shape=(24, 40, 40), spacing=(1.4, 1.4, 2.5), direction_ras=oblique_direction())
    out, lab, rec = insert_tumours(image, label, "small", seed=11, texture=folder)
    t = rec["texture"]
    assert t["name"] == "difftumor" and t["config"]["sha256"] == get_texture(folder).sha256
    params = rec["tumours"][0]["texture"]
    assert {"noise_seed", "mode", "recipe", "model_sha256", "size_class_recipe"} <= set(params)
    facts = rec["tumours"][0]["texture_facts"]  # which model actually ran
    assert facts["recipe"] == dict(tiny="early", small="early", medium="noearly", large="noearly")[facts["size_class"]]
    assert (out.array != image.array).any()
    outside = lab.array != 2
    assert (out.array[outside] == image.array[outside]).mean() > 0.95
    rec = json.loads(json.dumps(rec))  # as read back from record.json
    again, lab2 = replay(image, label, rec)
    assert np.array_equal(again.array, out.array) and np.array_equal(lab2.array, lab.array)
    rec["tumours"][0]["texture"]["model_sha256"] = "f" * 64
    with pytest.raises(ModelFolderError, match="another model"):
        replay(image, label, rec)


def test_cli_insert_with_a_texture_folder_end_to_end(folder, tmp_path, capsys):
    from SynTumorLib.cli.main import main
    from SynTumorLib.data.io import read_volume, write_volume

    image, label = make_tiny_ct(shape=(24, 40, 40), spacing=(1.4, 1.4, 2.5), direction_ras=oblique_direction())
    write_volume(image, tmp_path / "ct.nii.gz")
    write_volume(label, tmp_path / "seg.nii.gz")
    base = ["insert", "--image", str(tmp_path / "ct.nii.gz"), "--label", str(tmp_path / "seg.nii.gz"),
            "--size-class", "tiny", "--seed", "4", "--no-preview", "--texture", str(folder)]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    rec = json.loads((tmp_path / "a" / "record.json").read_text())
    assert rec["texture"]["name"] == "difftumor" and rec["tumours"][0]["texture"]["mode"] == "syntumor"
    assert main([*base[:-2], "--replay", str(tmp_path / "a" / "record.json"), "--out", str(tmp_path / "b"),
                 "--texture", str(folder)]) == 0
    a, b = (read_volume(tmp_path / d / "image.nii.gz").array for d in "ab")
    assert np.array_equal(a, b) and (a != image.array).any()
    assert main([*base, "--texture-mode", "reference", "--out", str(tmp_path / "c")]) == 0
    c = read_volume(tmp_path / "c" / "image.nii.gz").array
    assert (c != image.array).sum() > (a != image.array).sum()
    capsys.readouterr()
    assert main([*base[:-2], "--texture", "statistical", "--texture-mode", "reference", "--out", str(tmp_path / "d")]) == 2
    assert "apply to a DiffTumor texture folder" in capsys.readouterr().err


def test_online_transform_uses_the_folder(folder, monkeypatch):
    from SynTumorLib.insertion.transform import SynthesizeTumourd

    image, label = make_tiny_ct(shape=(24, 40, 40), spacing=(1.0, 1.0, 1.0))
    t = SynthesizeTumourd(texture=folder, prob=1.0, size_class="tiny", spacing=(1.0, 2.0, 3.0))
    assert isinstance(t.texture, DiffTumorTexture)
    seen = []
    real = t.texture.apply
    monkeypatch.setattr(t.texture, "apply", lambda *a, **k: seen.append(k["kji_to_ras"]) or real(*a, **k))
    t.set_random_state(seed=2)
    img = image.array[None].astype(np.float32)
    out = t({"image": img, "label": label.array[None].copy()})
    rec = json.loads(out["synthesis"])
    assert rec["applied"] and rec["insertion"]["texture"]["name"] == "difftumor"
    assert (np.asarray(out["image"]) != img).any() and (np.asarray(out["label"]) == 2).any()
    # an array without an affine has SynTumor's axes (k, j, i), k along S
    assert np.allclose(seen[0], [[0, 0, 3.0], [0, 2.0, 0], [1.0, 0, 0]])
    # a MetaTensor's affine (MONAI's RAS, array [x, y, z]) gives the true axes: axis 0 → R, 1 → A, 2 → S
    from monai.data import MetaTensor

    aff = np.diag([1.0, 2.0, 3.0, 1.0])
    t.set_random_state(seed=2)
    out = t({"image": MetaTensor(torch.as_tensor(img), affine=aff),
             "label": MetaTensor(torch.as_tensor(label.array[None].copy()), affine=aff)})
    assert json.loads(out["synthesis"])["applied"]
    assert np.allclose(seen[-1], np.diag([1.0, 2.0, 3.0]))


def test_study_spec_selects_the_texture_for_online_and_offline_synthesis(folder, tmp_path):
    from SynTumorLib.experiments.spec import StudySpec, load_spec
    from SynTumorLib.experiments.study import monai_train_config, plan_runs
    from SynTumorLib.segmentation.augment import make_synthesizer
    from SynTumorLib.segmentation.config import TrainConfig

    base = {"name": "t", "table": "size", "datasets": {"real": "phantom", "healthy": ["phantom"]},
            "arms": {"models": ["unet"], "sizes": ["none", "small"]}}
    assert StudySpec.from_dict(base).synthesis["texture"] == "statistical"  # the default
    tex = {"name": "difftumor", "config": {"folder": str(folder), "mode": "reference"}}
    spec = StudySpec.from_dict({**base, "synthesis": {"texture": tex}})
    run = next(r for r in plan_runs(spec) if r.arm.size == "small")
    splits = {"train": ["a"], "val": ["b"], "test": ["c"]}
    cfg = monai_train_config(spec, run, {"real": str(tmp_path), "healthy": str(tmp_path)}, splits)
    assert cfg["data"]["texture"] == tex
    assert TrainConfig.from_dict(cfg).data["texture"] == tex
    synth = make_synthesizer("small", 1.0, (1.0, 1.0, 1.0), "syntumor", tex)
    assert synth is not None
    # a relative folder in a spec file is relative to the file
    (tmp_path / "spec.json").write_text(json.dumps({**base, "synthesis": {"texture": "models/" + folder.name}}))
    (tmp_path / "models").mkdir()
    assert load_spec(tmp_path / "spec.json").synthesis["texture"] == str(tmp_path / "models" / folder.name)
    with pytest.raises(InputError, match="synthesis.texture"):
        StudySpec.from_dict({**base, "synthesis": {"texture": 3}})


def test_cli_synthesize_dataset_with_a_texture_folder(folder, tmp_path, capsys):
    from SynTumorLib.cli.main import main
    from SynTumorLib.data.msd import MSDWriter
    from SynTumorLib.data.volume import Volume

    k, j, i = np.indices((24, 32, 32))
    organ = ((j - 16) ** 2 + (i - 15) ** 2 < 80) & (abs(k - 12) < 9)
    img = Volume.from_geometry(np.where(organ, 100, -80).astype(np.int16), spacing=(1.0, 1.0, 1.2))
    w = MSDWriter(tmp_path / "healthy", name="healthy")
    w.add_case("h_000", img, img.with_array(organ.astype(np.uint8)))
    assert main(["synthesize-dataset", "--healthy", str(tmp_path / "healthy"), "--classes", "tiny", "--out",
                 str(tmp_path / "syn"), "--texture", str(folder), "--texture-mode", "reference"]) == 0
    assert "1 cases written" in capsys.readouterr().out
    rec = json.loads(next((tmp_path / "syn" / "records").glob("*.json")).read_text())
    assert rec["texture"]["name"] == "difftumor" and rec["tumours"][0]["texture"]["mode"] == "reference"


def test_reference_mode_pastes_the_decoded_crop_unclamped(folder, oblique, monkeypatch):
    ref = get_texture(folder, mode="reference")
    img, tumour, organ = _region()

    def fake(crop, mask, recipe, **kw):  # a decoder output past the window's top (1.2 → 335 HU)
        return {"volume": torch.full_like(crop, 1.2), "latent": None, "record": {}}

    monkeypatch.setattr(ref.synth, "synthesize", fake)
    out = ref.apply(img, tumour, organ, SP, ref.sample(0), kji_to_ras=oblique)
    inside = RasCrop.around(tumour, oblique, 32).inside(img.shape)
    assert np.allclose(out[inside], 1.2 * 425 - 175) and np.array_equal(out[~inside], img[~inside])


@pytest.mark.parametrize("mode", ["syntumor", "reference"])
def test_the_region_given_to_the_texture_reaches_the_crop_corners(folder, mode):
    """The denoiser is conditioned on the whole crop: the region insert_tumours hands to apply()
    (padded by context_mm + margin_mm around the tumour) must reach the crop's corners in both
    modes, or the crop is filled by repeating the region's edge voxels."""
    tex = get_texture(folder, mode=mode)
    half_diagonal = tex.crop_size * tex.crop_spacing * 3 ** 0.5 / 2
    assert tex.context_mm() + tex.margin_mm() >= half_diagonal
