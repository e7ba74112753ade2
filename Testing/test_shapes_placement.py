"""Shapes (ellipsoids in mm, elastic boundary, rotation) and placement helpers (host, reference rule)."""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_tiny_ct

from SynTumorLib import InputError
from SynTumorLib.geometry.placement import (
    Scene,
    bounding_box,
    ellipsoid_offsets,
    paste_slices,
    probe_fraction,
    reference_centre,
)
from SynTumorLib.geometry.shapes import (
    ShapeDraw,
    centroid,
    draw_shape,
    ellipsoid_mask,
    random_rotation,
    render_shape,
)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.8, 0.8)])
def test_ellipsoid_volume_and_extent_in_mm(spacing):
    axes = (9.0, 6.0, 4.0)  # x, y, z
    m = ellipsoid_mask(axes, spacing)
    vol = m.sum() * np.prod(spacing)
    assert vol == pytest.approx(4 / 3 * np.pi * 9 * 6 * 4, rel=0.06)
    idx = np.argwhere(m)
    ext_mm = (idx.max(0) - idx.min(0) + 1) * np.asarray(spacing)  # k, j, i
    assert ext_mm[2] == pytest.approx(18, abs=2 * spacing[2])  # x semi-axis along i
    assert ext_mm[0] == pytest.approx(8, abs=2 * spacing[0])  # z semi-axis along k


def test_rotation_is_proper_and_keeps_volume():
    rng = np.random.default_rng(0)
    for _ in range(5):
        r = random_rotation(rng)
        assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
    rot = ellipsoid_mask((9, 5, 5), (1, 1, 1), random_rotation(rng))
    assert rot.sum() == pytest.approx(ellipsoid_mask((9, 5, 5), (1, 1, 1)).sum(), rel=0.05)


def test_draw_and_render_are_deterministic_and_round_trip():
    rng = np.random.default_rng(3)
    d = draw_shape(rng, (6, 10), (1, 2), random_orientation=True)
    assert all(6 <= a <= 10 for a in d.semi_axes_mm) and 1 <= d.sigma_mm <= 2
    d2 = ShapeDraw.from_dict(d.to_dict())
    assert d2 == d
    a, b = render_shape(d, (1.5, 1, 1)), render_shape(d2, (1.5, 1, 1))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, ellipsoid_mask(d.semi_axes_mm, (1.5, 1, 1), np.asarray(d.rotation)))  # deformed
    ints = draw_shape(np.random.default_rng(1), (4, 7), (0.5, 1), integer_axes=True, random_orientation=False)
    assert all(float(x).is_integer() and 4 <= x <= 7 for x in ints.semi_axes_mm) and ints.rotation is None
    with pytest.raises(InputError, match="> 0 mm"):
        draw_shape(rng, (6, 10), (1, 2), semi_axes_mm=(5, -1, 5))
    with pytest.raises(InputError):
        centroid(np.zeros((3, 3, 3), bool))


def test_scene_host_respects_tissue_window_and_labels():
    image, label = make_tiny_ct()
    img = image.array.copy()
    img[:, :, 36:] = -1000  # air on one side
    lab = label.array.copy()
    lab[:, :, :8][lab[:, :, :8] == 0] = 5  # another structure on the other side
    sc = Scene(img, lab, image.array_spacing, organ_value=1, tumour_value=2, tissue_hu=(-300, 150))
    box, host, organ_flat = sc.host(4.0)
    organ = lab[box] == 1
    assert np.all(host[organ]) and host.sum() > organ.sum()
    extra = host & ~organ
    assert not np.any(img[box][extra] < -300) and not np.any(lab[box][extra] == 5)
    assert sc.max_depth_mm(4.0) > sc.max_depth_mm(0.0) > 0
    assert sc.host(0.0)[1].sum() == organ.sum()
    with pytest.raises(InputError, match="no organ voxels with value 9"):
        Scene(img, lab, image.array_spacing, organ_value=9, tumour_value=None, tissue_hu=(-300, 150))


def test_probe_fraction_and_paste_slices():
    host = np.zeros((30, 30, 30), bool)
    host[5:25, 5:25, 5:25] = True
    box = bounding_box(np.ones_like(host))
    offs = ellipsoid_offsets((4, 4, 4), None, (1, 1, 1))
    assert probe_fraction(box, host, (15, 15, 15), offs) == 1.0
    # half a voxel of the ball's z-range (−0.125 in unit radii) is inside: ≈ 0.59 of its volume
    assert probe_fraction(box, host, (5, 15, 15), offs) == pytest.approx(0.59, abs=0.05)
    full, local = paste_slices((-2, 3, 28), (5, 5, 5), (30, 30, 30))
    assert full == (slice(0, 3), slice(3, 8), slice(28, 30)) and local == (slice(2, 5), slice(0, 5), slice(0, 2))
    assert paste_slices((40, 0, 0), (5, 5, 5), (30, 30, 30)) == (None, None)


def test_reference_centre_rule():
    organ = np.zeros((40, 20, 20), bool)
    organ[10:30, 5:15, 5:15] = True
    box = bounding_box(organ)
    rng = np.random.default_rng(0)
    for _ in range(30):
        c = reference_centre(rng, organ, box, axis=0, large=False)
        assert organ[tuple(c)] and 10 + 0.3 * 19 - 1 <= c[0] <= 10 + 0.7 * 19 + 1
    assert reference_centre(rng, organ, box, axis=0, large=True).tolist() == [19, 9, 9]


def test_within_mm_equals_the_euclidean_transform_threshold():
    from scipy import ndimage

    from SynTumorLib.geometry.placement import within_mm

    rng = np.random.default_rng(1)
    for spacing in [(1.0, 1.0, 1.0), (2.5, 0.8, 0.8), (1.5, 0.7, 1.0)]:
        m = ndimage.gaussian_filter(rng.random((18, 26, 23)), 2.0) > 0.55
        for radius in (2.4, 3.0, 4.0, 7.5):
            ref = ndimage.distance_transform_edt(~m, sampling=spacing) <= radius
            assert np.array_equal(within_mm(m, spacing, radius), ref)
