"""corrupt_label / replay_corruption / noise levels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import ball, ellipsoid

from SynTumorLib import Volume
from SynTumorLib.corruption import LEVEL_NAMES, corrupt_label, load_levels, replay_corruption, sigma_for_level
from SynTumorLib.corruption.levels import validate_levels
from SynTumorLib.metrics import dice, hausdorff_distance
from SynTumorLib.utils.errors import InputError


def organ_with_tumours(shape=(36, 40, 40), spacing=(1.0, 1.0, 1.0), tumours=(((18, 20, 20), 7.0),),
                       direction=None) -> Volume:
    """Pancreas-like slab (1) holding ball tumours (2) given as ((k, j, i) centre, radius mm)."""
    sp_kji = np.asarray(spacing[::-1])
    lab = np.zeros(shape, np.uint8)
    lab[ellipsoid(shape, np.asarray(shape) / 2, (11, 13, 17), sp_kji, inclusive=True)] = 1
    for centre, radius in tumours:
        lab[ball(shape, centre, radius, sp_kji)] = 2
    return Volume.from_geometry(lab, spacing, direction_ras=direction)


def test_replay_is_bit_identical_and_record_is_json():
    lab = organ_with_tumours(tumours=(((18, 14, 14), 5.0), ((18, 26, 26), 6.0)))
    noisy, rec = corrupt_label(lab, level="moderate", seed=11)
    rec2 = json.loads(json.dumps(rec))
    again = replay_corruption(lab, rec2)
    assert again.array.dtype == noisy.array.dtype and np.array_equal(again.array, noisy.array)
    assert again.same_grid(lab)
    assert rec["op"] == "corrupt_label" and rec["level"] == "moderate"
    assert rec["sigma_mm"] == sigma_for_level("moderate")
    assert len(rec["components"]) == 2 and len({c["seed"] for c in rec["components"]}) == 2
    assert rec["changed_voxels"] == int(np.count_nonzero(noisy.array != lab.array)) > 0
    other, _ = corrupt_label(lab, level="moderate", seed=12)
    assert not np.array_equal(other.array, noisy.array)


def test_levels_are_monotonic_on_a_fixed_fixture():
    lab = organ_with_tumours()
    clean = lab.array == 2
    dices, hds = [], []
    for level in LEVEL_NAMES:
        d, h = [], []
        for seed in range(5):
            noisy, _ = corrupt_label(lab, level=level, seed=seed)
            d.append(dice(noisy.array == 2, clean))
            h.append(hausdorff_distance(noisy.array == 2, clean, lab.array_spacing))
        dices.append(np.mean(d))
        hds.append(np.mean(h))
    assert all(a > b for a, b in zip(dices, dices[1:], strict=False)), dices
    assert all(a < b for a, b in zip(hds, hds[1:], strict=False)), hds


def test_sigma_zero_returns_the_input():
    lab = organ_with_tumours()
    before = lab.array.copy()
    noisy, rec = corrupt_label(lab, sigma_mm=0.0, seed=3)
    assert np.array_equal(noisy.array, lab.array) and noisy.array is not lab.array
    assert rec["changed_voxels"] == 0 and any("σ = 0" in w for w in rec["warnings"])
    assert np.array_equal(lab.array, before)


def test_label_values_preserved_and_vacated_tumour_becomes_pancreas():
    lab = organ_with_tumours()
    before = lab.array.copy()
    for seed in range(3):
        noisy, _ = corrupt_label(lab, sigma_mm=2.0, seed=seed)
        out = noisy.array
        assert set(np.unique(out)) <= {0, 1, 2} and out.dtype == np.uint8
        # the tumour sits deep in the organ: where it left, the organ (1) takes over, never background
        vacated = (before == 2) & (out != 2)
        assert vacated.any() and np.all(out[vacated] == 1)
        # far from the tumour nothing changes
        far = np.ones_like(out, bool)
        far[6:31, 8:33, 8:33] = False
        assert np.array_equal(out[far], before[far])
    assert np.array_equal(lab.array, before)


def test_tumour_may_cross_the_organ_unless_kept_inside():
    # a tumour at the organ's edge: the deformed tumour reaches into background in the paper's mode
    lab = organ_with_tumours(tumours=(((18, 20, 34), 5.0),))
    organ = lab.array > 0
    crossed = kept = 0
    for seed in range(4):
        free, _ = corrupt_label(lab, sigma_mm=2.0, seed=seed)
        inside, rec = corrupt_label(lab, sigma_mm=2.0, seed=seed, keep_inside_organ=True)
        crossed += np.count_nonzero((free.array == 2) & ~organ)
        kept += np.count_nonzero((inside.array == 2) & ~organ)
        assert rec["keep_inside_organ"] and np.array_equal(replay_corruption(lab, rec).array, inside.array)
        # where a tumour leaves background-bordered voxels, they become background, not pancreas
        left = (lab.array == 2) & (free.array != 2)
        assert set(np.unique(free.array[left])) <= {0, 1}
    assert crossed > 0 and kept == 0


def test_anisotropic_oblique_grid_in_mm():
    """The same physical tumour loses about the same Dice on a 1 mm grid and on a 0.8×0.8×2.5 mm oblique one."""
    from builders import oblique_direction

    iso = organ_with_tumours()
    sp = (0.8, 0.8, 2.5)
    aniso = organ_with_tumours(shape=(15, 50, 50), spacing=sp, tumours=(((7, 25, 25), 7.0),),
                               direction=oblique_direction())

    def mean_dice(lab):
        return np.mean([dice(corrupt_label(lab, sigma_mm=1.5, seed=s)[0].array == 2, lab.array == 2) for s in range(5)])

    assert mean_dice(iso) == pytest.approx(mean_dice(aniso), abs=0.06)


def test_per_component_and_whole_label_modes():
    lab = organ_with_tumours(tumours=(((18, 14, 14), 5.0), ((18, 26, 26), 5.0)))
    _, per = corrupt_label(lab, sigma_mm=1.0, seed=1)
    whole, rec = corrupt_label(lab, sigma_mm=1.0, seed=1, per_component=False)
    assert len(per["components"]) == 2 and len(rec["components"]) == 1
    assert np.array_equal(replay_corruption(lab, rec).array, whole.array)
    pairs, rec_p = corrupt_label(lab, sigma_mm=1.0, seed=1, mode="pairs", control_points=4)
    assert rec_p["mode"] == "pairs" and np.array_equal(replay_corruption(lab, rec_p).array, pairs.array)


def test_no_tumour_is_a_noop_with_warning():
    lab = organ_with_tumours(tumours=())
    noisy, rec = corrupt_label(lab, level="high", seed=0)
    assert np.array_equal(noisy.array, lab.array) and rec["components"] == []
    assert any("no voxels with value" in w for w in rec["warnings"])


def test_sigma_larger_than_tumour_warns():
    lab = organ_with_tumours(tumours=(((18, 20, 20), 2.0),))
    _, rec = corrupt_label(lab, sigma_mm=4.0, seed=0)
    assert any("≥ the size" in w for w in rec["warnings"])
    _, ok = corrupt_label(lab, sigma_mm=0.5, seed=0)
    assert not ok["warnings"]


def test_bad_inputs_have_specific_messages():
    lab = organ_with_tumours()
    with pytest.raises(InputError, match="non-integer"):
        corrupt_label(lab.with_array(lab.array.astype(np.float32) + 0.5), sigma_mm=1.0)
    with pytest.raises(InputError, match="negative"):
        corrupt_label(lab.with_array(lab.array.astype(np.int16) - 1), sigma_mm=1.0)
    with pytest.raises(InputError, match="unknown noise level 'severe'"):
        corrupt_label(lab, level="severe")
    with pytest.raises(InputError, match="not both"):
        corrupt_label(lab, level="low", sigma_mm=1.0)
    with pytest.raises(InputError, match="give a noise level"):
        corrupt_label(lab)
    with pytest.raises(InputError, match="≥ 0"):
        corrupt_label(lab, sigma_mm=-1.0)
    with pytest.raises(InputError, match="mode"):
        corrupt_label(lab, sigma_mm=1.0, mode="xyz")
    with pytest.raises(InputError, match="Volume"):
        corrupt_label(lab.array, sigma_mm=1.0)
    with pytest.raises(InputError, match="target_labels"):
        corrupt_label(lab, sigma_mm=1.0, target_labels=(0,))
    with pytest.raises(InputError, match="control_points"):
        corrupt_label(lab, sigma_mm=1.0, control_points=1)
    _, rec = corrupt_label(lab, sigma_mm=1.0, seed=0)
    with pytest.raises(InputError, match="different label"):
        replay_corruption(organ_with_tumours(tumours=(((18, 20, 20), 4.0),)), rec)
    with pytest.raises(InputError, match="not a corrupt_label record"):
        replay_corruption(lab, {"op": "insert"})
    # integral float labels are accepted and keep their dtype
    f = lab.with_array(lab.array.astype(np.float32))
    assert corrupt_label(f, sigma_mm=1.0, seed=0)[0].array.dtype == np.float32


def test_levels_file_and_validation():
    levels = load_levels()
    assert tuple(levels) == LEVEL_NAMES
    values = list(levels.values())
    assert all(0 < a < b for a, b in zip(values, values[1:], strict=False))
    assert sigma_for_level(" Extreme ") == levels["extreme"]
    with pytest.raises(InputError, match="increase"):
        validate_levels({"low": 2, "moderate": 1, "high": 3, "extreme": 4})
    with pytest.raises(InputError, match="missing"):
        validate_levels({"low": 1})
    with pytest.raises(InputError, match="> 0"):
        validate_levels({"low": 0, "moderate": 1, "high": 3, "extreme": 4})
