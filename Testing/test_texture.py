"""Texture models: the statistical model, the registry, fitting from labelled data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import write_msd
from scipy import ndimage

from SynTumorLib import InputError, SynTumorError, Volume
from SynTumorLib.cli.main import main
from SynTumorLib.data.msd import MSDWriter
from SynTumorLib.texture import TextureModel, get_texture, register_texture
from SynTumorLib.texture.fit import fit_texture
from SynTumorLib.texture.statistical import StatisticalTexture


def _region(seed=0):
    rng = np.random.default_rng(seed)
    img = (110 + rng.normal(0, 10, (30, 30, 30))).astype(np.float32)
    m = np.zeros(img.shape, bool)
    m[10:20, 9:21, 11:19] = True
    return img, m, ~m


def test_statistical_texture_contrast_margin_and_determinism():
    img, m, organ = _region()
    before = img.copy()
    tex = StatisticalTexture(contrast_hu=(50, 50), texture_std_hu=(5, 5), rim_hu=(0, 0))
    out, p = tex.synthesize(img, m, organ, (1.0, 1.0, 1.0), seed=4)
    assert np.array_equal(img, before), "input modified"
    assert out.dtype == np.float32 and out.shape == img.shape
    core = ndimage.binary_erosion(m, iterations=2)
    assert np.median(out[core]) == pytest.approx(60, abs=6)
    # the CT's grain survives: the tumour is not flat
    assert np.std(out[core]) > 5
    dist = ndimage.distance_transform_edt(~m)
    assert np.array_equal(out[dist > p["margin_mm"]], img[dist > p["margin_mm"]])
    assert np.array_equal(tex.apply(img, m, organ, (1, 1, 1), p), out)
    assert not np.array_equal(tex.synthesize(img, m, organ, (1, 1, 1), seed=5)[0], out)
    p2 = json.loads(json.dumps(p))
    assert np.array_equal(get_texture(tex.describe()).apply(img, m, organ, (1, 1, 1), p2), out)


def test_rim_and_floor():
    img, m, organ = _region()
    tex = StatisticalTexture(contrast_hu=(40, 40), texture_std_hu=(0, 0), rim_hu=(30, 30), rim_width_mm=1.5, feather_mm=0)
    out, _ = tex.synthesize(img, m, organ, (1, 1, 1), seed=0)
    core = ndimage.binary_erosion(m, iterations=3)
    shell = m & ~ndimage.binary_erosion(m)
    assert np.median(out[shell]) > np.median(out[core]) + 20
    low = np.full_like(img, 20.0)
    out2, _ = StatisticalTexture(contrast_hu=(60, 60), texture_std_hu=(0, 0), floor_hu=10).synthesize(low, m, organ, (1, 1, 1), 0)
    assert np.median(out2[core]) == pytest.approx(10, abs=1)


def test_registry_and_dispatch(tmp_path):
    assert isinstance(get_texture("statistical"), StatisticalTexture)
    with pytest.raises(InputError, match="unknown texture"):
        get_texture("velvet")
    with pytest.raises(InputError, match="low ≤ high"):
        StatisticalTexture(contrast_hu=(60, 30))

    class Flat(TextureModel):
        name = "flat"

        def sample(self, seed):
            return {"margin_mm": 0.0}

        def apply(self, image_hu, tumour_mask, organ_mask, spacing_kji, params):
            return np.where(tumour_mask, 0.0, image_hu).astype(np.float32)

    register_texture("flat", Flat)
    img, m, organ = _region()
    assert np.all(get_texture("flat").synthesize(img, m, organ, (1, 1, 1), 0)[0][m] == 0)
    folder = tmp_path / "model"
    folder.mkdir()
    with pytest.raises(SynTumorError):  # an empty folder is no diffusion model
        get_texture(folder)
    bad = tmp_path / "bad.json"
    bad.write_text('{"texture": "other"}')
    with pytest.raises(InputError, match="not a statistical texture JSON"):
        get_texture(bad)


def _tumour_dataset(root, contrast=45.0, n=3):
    """Cuboid pancreas and tumours of a known contrast in smooth noise (the fit must recover it)."""
    def case(c: int):
        rng = np.random.default_rng(c)
        lab = np.zeros((24, 40, 40), np.uint8)
        lab[3:21, 4:36, 4:36] = 1
        lab[8:16, 14 + c:24 + c, 14:24] = 2
        noise = ndimage.gaussian_filter(rng.normal(0, 1, lab.shape), 1.0)
        img = 100 + 8 * noise / noise.std() - contrast * (lab == 2)
        vol = Volume.from_geometry(np.round(img).astype(np.int16), spacing=(1.0, 1.0, 1.5))
        return f"t_{c:03d}", vol, vol.with_array(lab)

    write_msd(root, (case(c) for c in range(n)), name="tumours")


def test_fit_texture_recovers_contrast_and_cli(tmp_path, capsys):
    _tumour_dataset(tmp_path / "ds", contrast=45.0)
    res = fit_texture(tmp_path / "ds")
    assert res["n_cases"] == 3
    lo, hi = res["params"]["contrast_hu"]
    assert 40 <= lo <= hi <= 50
    assert 0.5 < res["params"]["texture_scale_mm"][0] < 3
    out = tmp_path / "texture.json"
    assert main(["texture", "fit", str(tmp_path / "ds"), "--out", str(out)]) == 0
    tex = get_texture(out)
    assert isinstance(tex, StatisticalTexture) and tex.ranges["contrast_hu"] == tuple(res["params"]["contrast_hu"])
    healthy = MSDWriter(tmp_path / "healthy")
    v = Volume.from_geometry(np.zeros((8, 8, 8), np.int16))
    healthy.add_case("h", v, v.with_array(np.ones((8, 8, 8), np.uint8)))
    assert main(["texture", "fit", str(tmp_path / "healthy"), "--out", str(out)]) == 2
    assert "no case has both tumour" in capsys.readouterr().err


def test_near_distances_equal_the_euclidean_transform_below_the_limit():
    from scipy import ndimage

    from SynTumorLib.texture.statistical import near_distances

    rng = np.random.default_rng(0)
    for spacing in [(1.0, 1.0, 1.0), (2.5, 0.8, 0.8), (0.7, 1.5, 1.0)]:
        m = ndimage.gaussian_filter(rng.random((20, 24, 22)), 2.5) > 0.5
        for limit in (1.5, 2.0, 3.2):
            din, dout = near_distances(m, spacing, limit)
            ein = ndimage.distance_transform_edt(m, sampling=spacing)
            eout = ndimage.distance_transform_edt(~m, sampling=spacing)
            assert np.array_equal(np.where(ein <= limit, ein, np.inf)[m], din[m])
            assert np.array_equal(np.where(eout <= limit, eout, np.inf)[~m], dout[~m])


def test_diffusion_by_name_without_a_folder_points_to_the_statistical_default():
    from SynTumorLib.texture import get_texture
    from SynTumorLib.utils.errors import InputError

    with pytest.raises(InputError, match="statistical"):
        get_texture("diffusion")
