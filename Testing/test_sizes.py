"""Size classes: presets, custom JSON, mixed draws, and the quartile analysis of real tumour sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import write_msd

from SynTumorLib import InputError, Volume
from SynTumorLib.cli.main import main
from SynTumorLib.data.msd import MSDWriter
from SynTumorLib.geometry.size_analysis import analyze_dataset, write_analysis
from SynTumorLib.geometry.sizes import SizeClass, equivalent_radius_mm, load_size_classes


def test_presets_match_the_design_table():
    s = load_size_classes("syntumor")
    assert [c.radius_mm for c in s] == [6, 8, 10, 15]
    assert [c.range_mm for c in s] == [(4, 7), (6, 10), (7, 12), (11, 30)]
    assert [c.count for c in s] == [(1, 3), (1, 3), (1, 1), (1, 1)]
    assert s["large"].sigma_mm == (5, 10) and s["tiny"].sigma_mm == (0.5, 1.0)
    d = load_size_classes("difftumor")
    assert [c.radius_mm for c in d] == [4, 8, 16, 32]
    assert [c.range_mm for c in d] == [(3, 5), (6, 10), (12, 20), (24, 64)]
    assert s["medium"].nominal_volume_mm3 == pytest.approx(4 / 3 * np.pi * 1000)


def test_custom_json_and_mixed_probabilities(tmp_path):
    p = tmp_path / "classes.json"
    p.write_text(json.dumps({"name": "mine", "classes": {
        "a": {"radius_mm": 5, "delta_mm": 1}, "b": {"radius_mm": 20, "range_mm": [15, 25], "count": [1, 2]}},
        "probabilities": {"a": 1, "b": 3}}))
    s = load_size_classes(p)
    assert s.name == "mine" and s["a"].range_mm == (4, 6) and s.probabilities["b"] == pytest.approx(0.75)
    rng = np.random.default_rng(0)
    picks = [s.pick("mixed", rng).name for _ in range(400)]
    assert 0.65 < picks.count("b") / 400 < 0.85
    s2 = load_size_classes("syntumor", probabilities={"large": 1})
    assert {s2.pick("mixed", rng).name for _ in range(20)} == {"large"}
    assert load_size_classes(s.to_dict()).to_dict() == s.to_dict()


def test_bad_size_classes():
    with pytest.raises(InputError, match="unknown size classes"):
        load_size_classes("gigantic")
    with pytest.raises(InputError, match="unknown size class 'huge'"):
        load_size_classes("syntumor")["huge"]
    with pytest.raises(InputError, match="range_mm"):
        SizeClass("x", 5, (0, 4))
    with pytest.raises(InputError, match="probabilities"):
        load_size_classes("syntumor", probabilities={"enormous": 1})
    with pytest.raises(InputError, match="mixed"):
        load_size_classes({"classes": {"mixed": {"radius_mm": 3}}})


def _dataset_with_known_tumours(root):
    """Cases with cuboid tumours of exactly known voxel counts (1 mm voxels, 2 tumours per case)."""
    sides = [2, 3, 4, 5, 6, 7, 8, 9]

    def case(c: int):
        lab = np.zeros((24, 24, 24), np.uint8)
        lab[1:23, 1:23, 1:23] = 1
        a, b = sides[2 * c], sides[2 * c + 1]
        lab[2:2 + a, 2:2 + a, 2:2 + a] = 2
        lab[12:12 + b, 12:12 + b, 12:12 + b] = 2
        img = Volume.from_geometry(np.zeros(lab.shape, np.int16), spacing=(1.0, 1.0, 1.0))
        return f"case_{c:03d}", img, img.with_array(lab)

    write_msd(root, (case(c) for c in range(4)), name="known")
    return np.array([s**3 for s in sides], float)


def test_quartile_analysis_recovers_known_quartiles(tmp_path):
    volumes = _dataset_with_known_tumours(tmp_path / "ds")
    r = equivalent_radius_mm(volumes)
    res = analyze_dataset(tmp_path / "ds")
    assert res["n_tumours"] == 8 and res["n_cases"] == 4
    assert res["quartiles_radius_mm"] == pytest.approx(np.percentile(r, [25, 50, 75]))
    assert sorted(t["volume_mm3"] for t in res["tumours"]) == pytest.approx(sorted(volumes))
    classes = res["size_classes"]["classes"]
    # two tumours per quartile: r_sel is their median
    for g, name in enumerate(("tiny", "small", "medium", "large")):
        pair = r[2 * g:2 * g + 2]
        assert classes[name]["radius_mm"] == pytest.approx(np.median(pair), abs=1e-3)
        lo, hi = np.percentile(pair, [5, 95])  # the spread inside the quartile, at least ±10 %
        rsel = np.median(pair)
        assert classes[name]["range_mm"] == pytest.approx([min(lo, 0.9 * rsel), max(hi, 1.1 * rsel)], abs=1e-3)
    paths = write_analysis(res, tmp_path / "out")
    sizes = load_size_classes(paths["json"])  # directly usable by insertion/training
    assert sizes["large"].radius_mm == pytest.approx(classes["large"]["radius_mm"], abs=1e-3)
    assert paths["png"].stat().st_size > 1000 and "| tiny |" in paths["md"].read_text()
    assert len(paths["csv"].read_text().strip().splitlines()) == 9


def test_sizes_cli(tmp_path, capsys):
    _dataset_with_known_tumours(tmp_path / "ds")
    assert main(["sizes", "analyze", str(tmp_path / "ds"), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "size_classes.json").exists()
    assert main(["sizes", "show", "difftumor"]) == 0
    assert "| large | 32 |" in capsys.readouterr().out
    assert main(["sizes", "show", "nope"]) == 2
    assert "unknown size classes" in capsys.readouterr().err
    empty = MSDWriter(tmp_path / "healthy")
    v = Volume.from_geometry(np.zeros((8, 8, 8), np.int16))
    empty.add_case("h", v, v.with_array(np.ones((8, 8, 8), np.uint8)))
    assert main(["sizes", "analyze", str(tmp_path / "healthy"), "--out", str(tmp_path / "o2")]) == 2
    assert "no tumour" in capsys.readouterr().err
