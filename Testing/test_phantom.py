"""The built-in phantom: determinism, anatomical plausibility, tumours, cohort writing and CLI.

Cases are rendered at 3 mm (a few seconds each) and shared across tests; volumes are checked in
mL, which do not depend on the spacing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from SynTumorLib.data.phantom import (
    generate_case,
    generate_cohort,
    render_case,
    replay_case,
    sample_tumour_diameters,
)
from SynTumorLib.data.phantom.pancreas import pancreas_centreline
from SynTumorLib.data.phantom.tissues import ID
from SynTumorLib.utils.errors import InputError

SP = (3.0, 3.0, 3.0)


@pytest.fixture(scope="module")
def cases():
    """Three cases with one tumour each (seeds 0-2) at 3 mm."""
    return [render_case(s, spacing=SP, tumours=1) for s in range(3)]


def _mean(img, mask, erode=1):
    m = ndi.binary_erosion(mask, iterations=erode) if erode else mask
    assert m.any(), "structure vanished after erosion"
    return float(img[m].mean())


def _ras(vol, mask):
    return vol.kji_to_ras(np.argwhere(mask))


def test_same_seed_is_bit_identical_and_seeds_differ():
    a = generate_case(11, spacing=(6, 6, 6), tumours=1)
    b = generate_case(11, spacing=(6, 6, 6), tumours=1)
    c = generate_case(12, spacing=(6, 6, 6), tumours=1)
    assert np.array_equal(a[0].array, b[0].array) and np.array_equal(a[1].array, b[1].array)
    assert np.array_equal(a[0].ijk_to_ras, b[0].ijk_to_ras)
    strip = {k: v for k, v in a[2].items() if k != "seconds"}
    assert json.dumps(strip, sort_keys=True) == json.dumps({k: v for k, v in b[2].items() if k != "seconds"}, sort_keys=True)
    assert a[2]["anatomy"] != c[2]["anatomy"]
    assert not np.array_equal(a[1].array, c[1].array)
    assert a[0].array.dtype == np.int16 and a[1].array.dtype == np.uint8


def test_volumes_and_geometry(cases):
    for case in cases:
        info = case.info
        assert 40 <= info["pancreas_ml"] <= 120, info["pancreas_ml"]
        assert case.image.same_grid(case.label)
        assert set(np.unique(case.label.array)) == {0, 1, 2}
        # LPS-like orientation, like scanner data: i → left, j → posterior
        assert np.allclose(case.image.direction_ras, np.diag([-1, -1, 1]))
        assert np.allclose(case.image.spacing, SP)
    # anatomy varies with the seed
    assert len({round(c.info["pancreas_ml"], 1) for c in cases}) == 3


def test_organ_hu_ranges(cases):
    for case in cases:
        img, t, lab = case.image.array, case.tissue.array, case.label.array
        assert 90 <= _mean(img, lab == 1) <= 140
        assert 90 <= _mean(img, t == ID["liver"]) <= 130
        assert 100 <= _mean(img, t == ID["spleen"]) <= 140
        assert _mean(img, t == ID["fat_subcut"]) < -50
        assert _mean(img, t == ID["fat_visceral"]) < -50
        assert _mean(img, t == ID["gas"]) < -900
        assert _mean(img, np.isin(t, [ID["bone_cortical"], ID["bone_cancellous"]]), erode=0) > 200
        assert _mean(img, t == ID["aorta"]) > 130
        assert 30 <= _mean(img, t == ID["muscle"]) <= 80
        # CT-like noise: the standard deviation inside a homogeneous organ is 5–25 HU
        sd = float(img[ndi.binary_erosion(t == ID["liver"], iterations=2)].std())
        assert 5 <= sd <= 25, sd


def test_left_right_anterior_posterior(cases):
    """Liver and IVC on the patient's right, spleen and aorta on the left, aorta in front of the spine."""
    for case in cases:
        t, v = case.tissue.array, case.tissue
        x = {n: _ras(v, t == ID[n]).mean(axis=0) for n in ("liver", "spleen", "aorta", "ivc", "bone_cancellous")}
        assert x["liver"][0] > 30 and x["spleen"][0] < -30
        assert x["aorta"][0] < 0 < x["ivc"][0]
        assert x["aorta"][1] > x["bone_cancellous"][1] + 15  # anterior (RAS y) of the vertebral body
        # pancreas: head right of the midline, tail left, next to the spleen
        p = _ras(v, case.label.array > 0)
        assert p[:, 0].max() > 20 and p[:, 0].min() < -60


def test_pancreas_inside_body_and_along_splenic_vein(cases):
    for case in cases:
        t, lab = case.tissue.array, case.label.array
        body = ndi.binary_fill_holes(t != ID["air"])
        depth = ndi.distance_transform_edt(body, sampling=case.tissue.array_spacing)
        assert depth[lab > 0].min() > 30  # mm from the skin
        # splenic vein: portal-venous tissue left of the midline; along the body and tail, in every
        # 10 mm band of x the vein comes within 4.5 mm of the gland
        ras = _ras(case.tissue, np.ones(t.shape, bool)).reshape(t.shape + (3,))
        sv = (t == ID["portal"]) & (ras[..., 0] < -10)
        gland = lab > 0
        dist = ndi.distance_transform_edt(~gland, sampling=case.tissue.array_spacing)
        xs = ras[..., 0]
        px = xs[gland & (xs < -10)]
        bands = np.arange(px.min() + 5, -10, 10.0)
        near = [dist[sv & (np.abs(xs - b) < 5)].min() <= 4.5 for b in bands if (sv & (np.abs(xs - b) < 5)).any()]
        assert len(near) >= 4 and np.mean(near) >= 0.8, near


def test_tumours_in_pancreas_and_hypodense(cases):
    for case in cases:
        lab, img = case.label.array, case.image.array
        tum = lab == 2
        assert tum.any()
        # touches the gland and is centred on it (within the local gland radius + 6 mm)
        assert (ndi.binary_dilation(tum) & (lab == 1)).any()
        cl = pancreas_centreline(case.info["anatomy"])
        centre = _ras(case.label, tum).mean(axis=0)
        d = np.linalg.norm(cl.points - centre, axis=1)
        i = int(np.argmin(d))
        assert d[i] <= cl.radii[i] + 6, (d[i], cl.radii[i])
        plan = case.info["tumours"][0]
        assert 10 <= plan["diameter_mm"] <= 70 and 25 <= plan["hypo_hu"] <= 55
        # hypodense against the gland: interior tumour vs interior pancreas
        tum_hu = _mean(img, tum, erode=1 if ndi.binary_erosion(tum).any() else 0)
        assert tum_hu < _mean(img, lab == 1) - 15


def test_explicit_tumour_size_is_delivered():
    # a 160×128×112 mm box around the pancreas holds any tumour site
    img, lab, info = generate_case(21, spacing=(2, 2, 2), shape=(80, 64, 56), tumours=1, tumour_sizes=[30.0])
    assert np.array_equal(replay_case(info)[0].array, img.array)  # given sizes are part of the record
    nominal = np.pi / 6 * 30.0**3 / 1000
    assert info["tumours"][0]["diameter_mm"] == 30.0
    assert 0.5 * nominal <= info["tumour_ml"] <= 1.15 * nominal, (info["tumour_ml"], nominal)
    assert info["tumour_ml"] == pytest.approx((lab.array == 2).sum() * 8 / 1000, rel=1e-6)


def test_size_distribution_is_long_tailed():
    d = sample_tumour_diameters(np.random.default_rng(0), 20000)
    assert d.min() >= 10 and d.max() <= 70
    assert 24 <= np.median(d) <= 31
    assert d.mean() > np.median(d)
    skew = float(np.mean((d - d.mean()) ** 3) / d.std() ** 3)
    assert skew > 0.5, skew
    vol = np.pi / 6 * d**3
    q = np.quantile(vol, [0.25, 0.5, 0.75])
    assert q[0] < q[1] < q[2] and q[2] / q[0] > 3  # four well-separated quartile classes
    assert np.array_equal(d[:50], sample_tumour_diameters(np.random.default_rng(0), 20000)[:50])


def test_small_field_of_view_is_centred_on_the_pancreas():
    img, lab, info = generate_case(3, spacing=(3, 3, 3), shape=(48, 48, 40))
    assert img.shape == (40, 48, 48)
    assert info["pancreas_ml"] > 30  # most of the gland is inside a 144 mm box


@pytest.mark.parametrize("kwargs", [
    {"spacing": (0, 1, 1)}, {"spacing": (1, 1)}, {"shape": (4, 64, 64)}, {"tumours": -1},
    {"tumours": 1, "tumour_sizes": [20, 30]}, {"tumours": 1, "tumour_sizes": [500]}, {"seed": "abc"},
    {"noise_sd": -3}, {"spacing": (0.3, 0.3, 0.3)},
])
def test_bad_arguments(kwargs):
    args = {"seed": 1, "spacing": (6, 6, 6), **kwargs}
    with pytest.raises(InputError):
        generate_case(**args)


def test_cohort_and_cli(tmp_path):
    from SynTumorLib.cli.main import main
    from SynTumorLib.data.datasets import open_dataset

    out = tmp_path / "ph"
    rc = main(["phantom", "--out", str(out), "--cases", "2", "--tumours", "--seed", "5", "--spacing", "6", "6", "6"])
    assert rc == 0
    ds = open_dataset(out)
    cs = ds.cases()
    assert [c.case_id for c in cs] == ["phantom_000", "phantom_001"]
    image, label = ds.load(cs[0])
    assert image.same_grid(label) and (label.array == 2).any()
    rec = json.loads((out / "records" / "phantom_000.json").read_text())
    assert rec["cohort_seed"] == 5 and rec["op"] == "phantom" and "anatomy" in rec
    # the record reproduces the case
    again, again_label, _ = replay_case(rec)
    assert np.array_equal(again.array, image.array) and np.array_equal(again_label.array, label.array)
    with pytest.raises(InputError):
        replay_case({"op": "corrupt"})
    # resumable: a re-run (asking for one more case) keeps the finished files untouched
    mtime = (out / "imagesTr" / "phantom_000.nii.gz").stat().st_mtime_ns
    generate_cohort(out, 3, seed=5, tumours=True, spacing=(6, 6, 6))
    assert (out / "imagesTr" / "phantom_000.nii.gz").stat().st_mtime_ns == mtime
    assert len(open_dataset(out).cases()) == 3
    # resuming with another seed or grid into the same folder is refused, nothing is written
    with pytest.raises(InputError, match="cohort_seed 5"):
        generate_cohort(out, 4, seed=6, tumours=True, spacing=(6, 6, 6))
    with pytest.raises(InputError, match="spacing"):
        generate_cohort(out, 4, seed=5, tumours=True, spacing=(5, 5, 5))
    assert len(open_dataset(out).cases()) == 3


def test_cli_bad_input_exits_2(tmp_path, capsys):
    from SynTumorLib.cli.main import main

    assert main(["phantom", "--out", str(tmp_path / "x"), "--cases", "1", "--spacing", "0", "1", "1"]) == 2
    err = capsys.readouterr().err
    assert "syntumor phantom: error: spacing" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, -1.0, 1.0])])
def test_slices_are_drawn_in_radiological_convention(direction):
    """Patient's right on the image left and anterior up, for RAS- and LPS-ordered arrays alike."""
    from SynTumorLib import Volume
    from SynTumorLib.viz.overlay import extract_plane

    vol = Volume.from_geometry(np.zeros((5, 6, 7), np.int16), spacing=(1, 1, 1), direction_ras=direction)
    ras = vol.kji_to_ras(np.argwhere(np.ones(vol.shape, bool))).reshape(vol.shape + (3,))
    right_front = (ras[..., 0] == ras[..., 0].max()) & (ras[..., 1] == ras[..., 1].max())
    arr = vol.array.copy()
    arr[right_front] = 1
    sl, _ = extract_plane(vol.with_array(arr), "axial", 2)
    assert sl[0, 0] == 1 and sl.sum() == 1  # top-left: anterior and the patient's right
    sl, _ = extract_plane(vol.with_array(arr), "coronal", int(np.argwhere(right_front)[0][1]))
    assert sl[:, 0].all()  # coronal: the patient's right on the image left
