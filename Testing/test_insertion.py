"""insert_tumours / replay: bit-identical replay, delivered sizes in mm, placement rules, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import make_tiny_ct, oblique_direction
from scipy import ndimage

from SynTumorLib import InputError, Volume, read_volume
from SynTumorLib.geometry.sizes import equivalent_radius_mm, load_size_classes
from SynTumorLib.insertion import InsertionSpec, insert_tumours, replay


def _tumour_radii(label: Volume) -> list[float]:
    comps, n = ndimage.label(label.array == 2, structure=np.ones((3, 3, 3)))
    counts = np.bincount(comps.ravel())[1:]
    return [float(equivalent_radius_mm(c * label.voxel_volume_mm3)) for c in counts]


def test_replay_is_bit_identical_through_json(tiny_ct):
    image, label = tiny_ct
    img0, lab0 = image.array.copy(), label.array.copy()
    out, lab, rec = insert_tumours(image, label, {"size_class": "small", "count": 2}, seed=11)
    assert np.array_equal(image.array, img0) and np.array_equal(label.array, lab0), "inputs modified"
    assert rec["op"] == "insert_tumours" and rec["seed"] == 11 and len(rec["tumours"]) == 2
    rec2 = json.loads(json.dumps(rec))
    out2, lab2 = replay(image, label, rec2)
    assert out2.array.dtype == out.array.dtype
    assert np.array_equal(out2.array, out.array) and np.array_equal(lab2.array, lab.array)
    # same seed → same result; another seed → another result
    out3, _, _ = insert_tumours(image, label, {"size_class": "small", "count": 2}, seed=11)
    assert np.array_equal(out3.array, out.array)
    out4, _, _ = insert_tumours(image, label, {"size_class": "small", "count": 2}, seed=12)
    assert not np.array_equal(out4.array, out.array)


def test_replay_refuses_another_grid(tiny_ct, tiny_ct_aniso_oblique):
    image, label = tiny_ct
    _, _, rec = insert_tumours(image, label, "tiny", seed=1)
    with pytest.raises(InputError, match="grid"):
        replay(*tiny_ct_aniso_oblique, rec)


@pytest.mark.parametrize("grid", ["iso", "aniso_oblique"])
@pytest.mark.parametrize("cls", ["tiny", "small", "medium", "large"])
def test_delivered_equivalent_radius_in_class_range(grid, cls):
    if grid == "iso":
        image, label = make_tiny_ct()
    else:
        image, label = make_tiny_ct(shape=(24, 48, 48), spacing=(1.4, 1.4, 2.5), direction_ras=oblique_direction())
    lo, hi = load_size_classes("syntumor")[cls].range_mm
    for seed in (0, 1):
        _, lab, rec = insert_tumours(image, label, {"size_class": cls, "count": 1}, seed=seed)
        radii = _tumour_radii(lab)
        assert len(radii) == 1
        assert lo <= radii[0] <= hi, f"{cls} on {grid}: r_eq {radii[0]:.2f} mm outside {lo}–{hi}"
        assert rec["tumours"][0]["equivalent_radius_mm"] == pytest.approx(radii[0])


def test_fraction_inside_organ_at_least_min(tiny_ct):
    image, label = tiny_ct
    organ = label.array == 1
    for seed in range(3):
        _, lab, rec = insert_tumours(image, label, {"size_class": "tiny", "count": 1, "bulge_mm": 0, "min_inside": 0.9}, seed=seed)
        t = lab.array == 2
        assert (t & organ).sum() / t.sum() >= 0.9
        assert rec["tumours"][0]["fraction_in_host"] >= 0.9
    # with the default bulge the tumour may extend into fat, never into air
    air = image.with_array(np.where(np.indices(image.shape)[2] > 30, -1000, image.array).astype(np.int16))
    _, lab, _ = insert_tumours(air, label, {"size_class": "medium"}, seed=4)
    outside = (lab.array == 2) & ~organ
    assert not np.any(air.array[outside] < -300)


@pytest.mark.parametrize("oblique", [False, True])
def test_point_mode_centres_within_one_voxel(oblique):
    if oblique:
        image, label = make_tiny_ct(shape=(24, 48, 48), spacing=(1.4, 1.4, 2.5), direction_ras=oblique_direction())
    else:
        image, label = make_tiny_ct()
    organ_idx = np.argwhere(label.array == 1)
    target_kji = organ_idx.mean(axis=0) + np.array([0.3, -0.2, 0.4])
    target_kji = organ_idx[np.argmin(np.linalg.norm(organ_idx - target_kji, axis=1))] + np.array([0.3, -0.2, 0.4])
    ras = image.kji_to_ras(target_kji)
    out, lab, rec = insert_tumours(image, label, {"size_class": "small", "at_ras": [ras.tolist()], "min_inside": 0.5}, seed=5)
    c = np.argwhere(lab.array == 2).mean(axis=0)
    assert np.all(np.abs(c - target_kji) <= 1.0), (c, target_kji)
    assert rec["placement"] == "point"
    assert np.linalg.norm(np.asarray(rec["tumours"][0]["centre_ras"]) - ras) <= max(image.spacing) * 1.75


def test_image_outside_blend_margin_unchanged(tiny_ct):
    image, label = tiny_ct
    out, lab, rec = insert_tumours(image, label, {"size_class": "medium"}, seed=2)
    t = lab.array == 2
    dist = ndimage.distance_transform_edt(~t, sampling=image.array_spacing)
    margin = rec["tumours"][0]["texture"]["margin_mm"]
    far = dist > margin
    assert np.array_equal(out.array[far], image.array[far])
    assert np.mean(out.array[t] != image.array[t]) > 0.9
    # hypoattenuating: tumour darker than the pancreas around it
    assert np.median(out.array[t]) < np.median(image.array[label.array == 1]) - 20


def test_several_tumours_do_not_overlap_and_reference_mode_clips(tiny_ct):
    image, label = tiny_ct
    _, lab, rec = insert_tumours(image, label, {"size_class": "tiny", "count": 3}, seed=3)
    assert len(_tumour_radii(lab)) == 3
    _, lab_r, rec_r = insert_tumours(image, label, {"size_class": "medium", "placement": "reference"}, seed=3)
    assert rec_r["placement"] == "reference" and rec_r["tumours"][0]["shape"]["elastic_mode"] == "pairs"
    assert np.all(label.array[lab_r.array == 2] == 1), "reference mode clips tumours to the organ"
    assert np.array_equal(replay(image, label, rec_r)[1].array, lab_r.array)


def test_float_image_and_existing_tumour_kept(tiny_ct):
    image, label = tiny_ct
    lab0 = label.array.copy()
    lab0[20, 24, 20:23] = 2  # an existing tumour: kept, not overlapped
    f = image.with_array(image.array.astype(np.float32))
    out, lab, _ = insert_tumours(f, label.with_array(lab0), "small", seed=8)
    assert out.array.dtype == np.float32
    assert np.all(lab.array[lab0 == 2] == 2)


def test_label_on_other_grid_is_resampled_with_warning(tiny_ct, caplog):
    image, label = tiny_ct
    shifted = Volume(label.array, label.ijk_to_ras.copy())
    shifted.ijk_to_ras[:3, 3] += 0.01  # tiny shift — another grid, same anatomy
    shifted.ijk_to_ras[0, 0] *= 1.001
    with caplog.at_level("WARNING"):
        _, _, rec = insert_tumours(image, shifted, "tiny", seed=1)
    assert rec["label_resampled"] and "resampled" in caplog.text
    far = Volume(label.array, label.ijk_to_ras.copy())
    far.ijk_to_ras[:3, 3] += 5000
    with pytest.raises(InputError, match="overlap"):
        insert_tumours(image, far, "tiny", seed=1)


def test_bad_inputs_give_specific_errors(tiny_ct):
    image, label = tiny_ct
    with pytest.raises(InputError, match="no organ voxels"):
        insert_tumours(image, label.with_array(np.zeros_like(label.array)), "small", seed=0)
    with pytest.raises(InputError, match="unknown size class 'huge'"):
        insert_tumours(image, label, "huge", seed=0)
    with pytest.raises(InputError, match="> 0 mm"):
        insert_tumours(image, label, {"radii_mm": [5, 0, 5]}, seed=0)
    with pytest.raises(InputError, match="classes that fit"):
        insert_tumours(image, label, {"radii_mm": [40, 40, 40]}, seed=0)
    with pytest.raises(InputError, match="outside the image"):
        insert_tumours(image, label, {"at_ras": [[900.0, 0.0, 0.0]]}, seed=0)
    corner = image.kji_to_ras((0, 0, 0)).tolist()
    with pytest.raises(InputError, match="not inside the organ.*mm away"):
        insert_tumours(image, label, {"at_ras": [corner]}, seed=0)
    with pytest.raises(InputError, match="unknown size classes"):
        InsertionSpec(classes="nonsense")
    with pytest.raises(InputError, match="min_inside"):
        InsertionSpec(min_inside=1.5)


def test_spec_round_trip():
    s = InsertionSpec(size_class="mixed", probabilities={"tiny": 1, "large": 3}, count=2, bulge_mm=2.0)
    assert InsertionSpec.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    r = s.resolved()
    assert isinstance(r.classes, dict) and r.sizes.probabilities["large"] == pytest.approx(0.75)


@pytest.mark.realdata
def test_real_ct_tumour_lands_in_its_pancreas(shared_data):
    ct = read_volume(shared_data / "ct.nii.gz")
    seg = read_volume(shared_data / "seg_multilabel.nii.gz")
    pancreas = seg.array == 7
    for seed in (0, 1):
        out, lab, rec = insert_tumours(ct, seg, {"size_class": "medium", "organ_value": 7}, seed=seed)
        t = lab.array == 2
        c = tuple(int(x) for x in np.rint(np.argwhere(t).mean(axis=0)))
        assert pancreas[c], "tumour centre is not in the pancreas"
        assert (t & pancreas).sum() / t.sum() > 0.4
        other = (seg.array != 0) & ~pancreas
        assert not np.any(t & other), "tumour entered another labelled structure"
        assert set(np.unique(lab.array)) <= {0, 1, 2}


def test_delivered_size_is_guaranteed_not_just_likely():
    # on this coarse anisotropic grid some medium draws deliver less than 7 mm without the size
    # check (seeds 10 and 11 among these): every delivered tumour must still be in the range
    image, label = make_tiny_ct(shape=(24, 48, 48), spacing=(1.4, 1.4, 2.5), direction_ras=oblique_direction())
    lo, hi = load_size_classes("syntumor")["medium"].range_mm
    for seed in range(6, 15):
        _, lab, _ = insert_tumours(image, label, {"size_class": "medium", "count": 1}, seed=seed)
        assert lo <= _tumour_radii(lab)[0] <= hi
