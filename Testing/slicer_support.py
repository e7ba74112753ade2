"""Helpers for the tests that use real MRML classes (the slicer-core wheel) and the SynTumorTrain CLI
module: a scene with our node classes, an oblique anisotropic CT case in it, and one tiny CLI training
run shared by the whole session (see the fixtures in conftest.py). Import this only after
``pytest.importorskip("slicer")`` where MRML is needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from builders import make_seg_dataset, make_tiny_ct, oblique_direction, tiny_config

REPO = Path(__file__).resolve().parents[1]
CLI_DIR = REPO / "SynTumor" / "SynTumorTrain"
CLI_SCRIPT = CLI_DIR / "SynTumorTrain.py"


def new_scene():
    """A fresh MRML scene with SynTumor's node classes registered."""
    import slicer

    from SynTumorLib.mrml import register_node_classes

    scene = slicer.vtkMRMLScene()
    register_node_classes(scene)
    return scene


def oblique_case(scene, with_tumour: bool = True):
    """A CT node with an oblique, anisotropic IJK→RAS and its pancreas(+tumour) segmentation node."""
    from SynTumorLib.mrml import add_volume_node, segmentation_from_labelmap

    image, label = make_tiny_ct(shape=(24, 48, 48), spacing=(1.4, 1.4, 2.5), direction_ras=oblique_direction())
    lab = label.array.copy()
    if with_tumour:
        k, j, i = np.argwhere(lab == 1)[len(np.argwhere(lab == 1)) // 2]
        lab[max(k - 1, 0):k + 2, j - 2:j + 3, i - 2:i + 3] = 2
    label = label.with_array(lab)
    ct = add_volume_node(scene, image, "ct")
    seg = segmentation_from_labelmap(scene, label, "ct segmentation", ct)
    return image, label, ct, seg


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the SynTumorTrain CLI script as Slicer's CLI launcher does (a separate Python process)."""
    return subprocess.run([sys.executable, str(CLI_SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=str(REPO))


def slicer_style_args(dataset: Path, out: Path, config: Path, *extra: str) -> list[str]:
    """Arguments in the form Slicer's CLI launcher writes them: every parameter with its long flag,
    enumerations as text, booleans as a bare flag only when checked."""
    return ["--dataset", str(dataset), "--arm", "none", "--noiseLevel", "none", "--model", "unet",
            "--iterations", "2", "--batchSize", "2", "--cropSize", "16", "--config", str(config),
            "--device", "cpu", "--seed", "0", *extra, "--out", str(out)]


def write_config(tmp_path: Path, dataset: Path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_config(dataset, val_every=2, checkpoint_every=2)))
    return path


def tiny_cli_dataset(folder: Path) -> Path:
    return make_seg_dataset(folder, n_cases=4, shape=(24, 24, 24))
