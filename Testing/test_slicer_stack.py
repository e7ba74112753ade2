"""The Qt-free library paths the panels and the CLI module call, on the Python stack of the running
interpreter. ``tools/slicer_stack.sh`` runs this file (with the Slicer harness and the logic tests)
under Python 3.12 with the numpy/scipy Slicer 5.10 and 5.12 ship, setting ``SYNTUMOR_EXPECT_STACK``
to ``numpy==X scipy==Y`` so that the run proves which stack it tested; the main suite runs it too.

The paths: the phantom sample, statistical insertion, label corruption, evaluation (metrics and
lesions), and the MRML glue on slicer-core (nodes ⇄ volumes, segments, tables, scene save/load).
None of them may need torch or MONAI (a Slicer without the PyTorch extension runs them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PATHS = r"""
import json, sys
import numpy as np
import scipy
from SynTumorLib.data.phantom import generate_case
from SynTumorLib.insertion import insert_tumours, replay
from SynTumorLib.corruption import corrupt_label
from SynTumorLib.metrics import lesion_detection
from SynTumorLib.metrics.evaluate import evaluate_case

image, label, _ = generate_case(seed=1, tumours=1, tumour_sizes=[14.0], spacing=(2.0, 2.0, 2.0), shape=(48, 48, 40))
organ = label.with_array((label.array == 1).astype(np.uint8))
out, lab, record = insert_tumours(image, organ, {"size_class": "small", "count": 1}, seed=3)
again, _ = replay(image, organ, json.loads(json.dumps(record)))
assert np.array_equal(again.array, out.array), "replay is not bit-identical"
noisy, crecord = corrupt_label(label, level="high", seed=2)
m = evaluate_case(noisy, label, tolerance_mm=2.0)
det = lesion_detection(noisy.array == 2, label.array == 2, label.array_spacing)
result = {"numpy": np.__version__, "scipy": scipy.__version__, "inserted": int((lab.array == 2).sum()),
          "dice": m["tumour_dice"], "lesions": det["n_ref"]}
try:
    import slicer
    from SynTumorLib.mrml import (add_volume_node, load_scene, register_node_classes, save_scene,
                                  segmentation_from_labelmap, labelmap_from_segments, find_segment, TUMOUR,
                                  table_from_rows, volume_from_node)
    scene = slicer.vtkMRMLScene(); register_node_classes(scene)
    ct = add_volume_node(scene, out, "ct")
    seg = segmentation_from_labelmap(scene, lab, "seg", ct)
    table_from_rows(scene, "t", ["a"], [[1.0]])
    save_scene(scene, sys.argv[1] + "/s.mrml")
    fresh = load_scene(sys.argv[1] + "/s.mrml")
    back = labelmap_from_segments(fresh.GetFirstNodeByName("seg"), {find_segment(fresh.GetFirstNodeByName("seg"), TUMOUR): 2},
                                  fresh.GetFirstNodeByName("ct"))
    assert np.array_equal(back.array == 2, lab.array == 2) and np.array_equal(volume_from_node(fresh.GetFirstNodeByName("ct")).array, out.array)
    result["mrml"] = True
except ImportError:
    result["mrml"] = False
result["heavy"] = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "monai", "qt", "PySide6", "tqdm"))
print(json.dumps(result))
"""


def test_the_qt_free_paths_run_on_this_stack(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", PATHS, str(tmp_path)], capture_output=True, text=True, timeout=600,
                       env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["inserted"] > 0 and 0.0 <= result["dice"] <= 1.0 and result["lesions"] == 1
    assert result["heavy"] == [], f"the Qt-free paths imported {result['heavy']}"
    expected = dict(item.split("==") for item in os.environ.get("SYNTUMOR_EXPECT_STACK", "").split())
    for package, version in expected.items():
        assert result[package] == version, f"{package} {result[package]} here, the Slicer stack has {version}"
    if "slicer" in sys.modules or expected:
        assert result["mrml"], "slicer-core is not importable: the MRML glue was not run"


def test_the_stack_script_tests_what_each_slicer_ships():
    """tools/slicer_stack.sh pins the numpy/scipy that versions.json (read from Slicer's CMake) lists."""
    from slicer_harness.sources import slicer_sources

    versions_json = slicer_sources() / "versions.json"
    if not versions_json.is_file():
        pytest.skip(f"{versions_json} not found")
    shipped = json.loads(versions_json.read_text(encoding="utf-8"))
    script = (REPO / "tools" / "slicer_stack.sh").read_text(encoding="utf-8")
    for release in ("5.10.0", "5.12.3"):
        pins = f"{release}) stack=\"numpy=={shipped[release]['numpy']} scipy=={shipped[release]['scipy']}\""
        assert pins in script, f"tools/slicer_stack.sh should test {release} with {pins}"
        assert shipped[release]["python"].startswith("3.12")
