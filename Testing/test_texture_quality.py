"""Texture-quality measures (SynTumorLib.texture.quality) on tiny inputs: the measures against hand
values, the healthy twin of a phantom case, the comparison of textures and its summary/Markdown."""

from __future__ import annotations

import numpy as np
import pytest

from SynTumorLib.texture import get_texture
from SynTumorLib.texture import quality_report as report_mod
from SynTumorLib.texture.quality import (
    box_around,
    compare_textures,
    equivalent_diameter_mm,
    phantom_twin,
    summarize,
    tumour_stats,
    twin_from_record,
)
from SynTumorLib.utils.errors import InputError
from SynTumorLib.utils.seeding import child_seed

SP = (4.0, 4.0, 4.0)
SHAPE = (40, 36, 32)  # i, j, k voxels: ≤ 48³


def test_measures_on_a_block():
    hu = np.full((20, 20, 20), 100.0, np.float32)
    mask = np.zeros(hu.shape, bool)
    mask[6:14, 6:14, 6:14] = True
    hu[6:14, 6:14, 6:14] = np.where(np.arange(8) % 2 == 0, 40.0, 60.0)[None, None, :]  # mean 50, std 10
    pancreas = np.zeros(hu.shape, bool)
    pancreas[2:18, 2:18, 2:18] = True
    before = hu.copy()
    s = tumour_stats(hu, mask, pancreas & ~mask, (2.0, 2.0, 2.0))
    assert s["mean"] == pytest.approx(50.0) and s["std"] == pytest.approx(10.0)
    assert s["ring_mean"] == pytest.approx(100.0) and s["contrast"] == pytest.approx(50.0)
    assert s["sharp"] > 0 and np.array_equal(hu, before)  # inputs untouched
    # a twice finer spacing doubles the gradient in HU/mm
    assert tumour_stats(hu, mask, pancreas & ~mask, (1.0, 1.0, 1.0))["sharp"] == pytest.approx(2 * s["sharp"])
    # no ring (pancreas = tumour only) → error; a ring < 10 voxels falls back to the whole pancreas
    with pytest.raises(InputError, match="no pancreas"):
        tumour_stats(hu, mask, np.zeros(hu.shape, bool), (1, 1, 1))
    far = np.zeros(hu.shape, bool)
    far[0, 0, :5] = True
    assert tumour_stats(hu, mask, far, (1, 1, 1))["ring_mean"] == pytest.approx(100.0)
    with pytest.raises(InputError, match="empty"):
        tumour_stats(hu, np.zeros(hu.shape, bool), pancreas, (1, 1, 1))
    assert box_around(mask, (2.0, 2.0, 2.0), 4.0) == (slice(4, 16),) * 3
    assert equivalent_diameter_mm(mask, (1, 1, 1)) == pytest.approx((6 * 512 / np.pi) ** (1 / 3))


@pytest.fixture(scope="module")
def twin():
    return phantom_twin(5, spacing=SP, shape=SHAPE, tumours=1, case_id="c5")


def test_phantom_twin_differs_only_around_the_tumour(twin):
    assert twin.real.shape == twin.healthy.shape == SHAPE[::-1]
    assert (twin.label == 2).any() and not (twin.healthy_label == 2).any()
    keep = twin.label != 2
    assert np.array_equal(twin.healthy_label[keep], twin.label[keep])  # same anatomy
    # the record route gives the same twin, and a record of another case is refused
    from SynTumorLib.data.phantom import generate_case

    _, _, info = generate_case(5, spacing=SP, shape=SHAPE, tumours=1)
    again = twin_from_record(info, twin.real, twin.label, "c5")
    assert np.array_equal(again.healthy, twin.healthy) and again.seed == 5
    _, _, other = generate_case(6, spacing=SP, shape=SHAPE, tumours=1)
    with pytest.raises(InputError, match="rec6.json.*does not match"):
        twin_from_record(other, twin.real, twin.label, "c5", source="rec6.json")
    with pytest.raises(InputError, match="not a phantom record"):
        twin_from_record({"op": "insert"}, twin.real, twin.label, "c5")


def test_compare_textures_and_summary(twin):
    stat = get_texture("statistical")
    res = compare_textures([twin], {"statistical": stat, "again": stat})
    assert res.n_cases == 1 and res.skipped == [] and len(res.rows) == 1 and res.recon == []
    row = res.rows[0]
    assert row["texture_seed"] == child_seed(5, "tex", 1) and row["case"] == "c5"
    assert row["statistical"] == row["again"]  # same texture, same seed
    assert row["real"]["contrast"] > 0  # the phantom's tumours are hypodense
    s = summarize(res)
    assert s["n_tumours"] == 1 and s["autoencoder"] is None
    d = s["textures"]["statistical"]["abs_diff"]["mean"]
    assert d == pytest.approx(abs(row["statistical"]["mean"] - row["real"]["mean"]))
    assert summarize(res.to_json()) == s  # the JSON form summarises the same
    text = report_mod.markdown_report(s, res.skipped, "`test`", "g.png")
    assert "| statistical |" in text and "Autoencoder" not in text

    class TooSmall:  # a texture that refuses the tumour, as a diffusion model with a small crop does
        def synthesize(self, *a, **k):
            raise InputError("tumour extent exceeds the crop")

    res = compare_textures([twin], {"statistical": stat, "small": TooSmall()})
    assert res.rows == [] and res.skipped == ["case c5 tumour 1: tumour extent exceeds the crop"]
    text = report_mod.markdown_report(summarize(res), res.skipped, "`test`", "g.png")  # nothing measured: dashes
    assert "| statistical | – | – |" in text and "Not measured (1)" in text
    with pytest.raises(InputError, match="at least one"):
        compare_textures([twin], {})


def test_quality_results_page_is_stamped(tmp_path):
    """The quality report is a results page like the benchmarks': command, commit, machine, load."""
    from SynTumorLib.texture.quality import QualityResult
    from SynTumorLib.utils.results import page_meta

    real = {"mean": 80.0, "std": 18.0, "contrast": 25.0, "ring_mean": 105.0, "sharp": 29.0}
    stat = {"mean": 70.0, "std": 28.0, "contrast": 35.0, "ring_mean": 105.0, "sharp": 33.0}
    res = QualityResult(["statistical"], rows=[{"case": "0", "tumour": 1, "d_mm": 20.0, "real": real,
                                                "statistical": stat}], times={"statistical": [0.1]}, n_cases=1)
    page = report_mod.results_page(summarize(res), res.skipped, "python tools/diffusion_quality_report.py --model m",
                                   "docs/img/diffusion_quality_grid.png")
    text = page.write(tmp_path).read_text(encoding="utf-8")
    assert page_meta(tmp_path / "diffusion-quality.md")["command"] == "python tools/diffusion_quality_report.py --model m"
    for stamp in ("| statistical | 70.0 |", "](../img/diffusion_quality_grid.png)", "| machine |", "| load average |"):
        assert stamp in text
    assert "Generated by" not in text  # the stamp says how it was made, once
