"""The SynTumorPhantom sample through each release's own Sample Data module (5.10.0, 5.12.3).

``SampleData.downloadSample(name)`` — what scripts, tests and other modules call — ignores a
source's ``customDownloader`` and downloads its URIs; the phantom must load that way too, not only
from the Sample Data button (AUDIT B7), and a failure must reach the user.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

from slicer_harness.release import slicer_release  # noqa: E402
from slicer_harness.sources import RELEASES  # noqa: E402

SMALL = {"seed": 0, "tumours": 0, "spacing": (2.0, 2.0, 2.0), "shape": (48, 48, 40)}


@pytest.fixture(params=RELEASES)
def release(request, tmp_path, monkeypatch):
    with slicer_release(request.param, tmp_path / "slicer") as rel:
        from SynTumorInsertionLib import sample_data

        monkeypatch.setattr(sample_data, "PHANTOM", SMALL)
        mod = rel.import_module_file("SynTumorInsertion")
        mod.SynTumorInsertion(rel.module_parent("SynTumorInsertion"))
        for signal, slot in rel.app.connections:  # the application has started up
            if signal == "startupCompleted()":
                slot()
        yield rel


def test_download_sample_generates_and_loads_the_phantom(release):
    import SampleData

    from SynTumorLib.data.phantom import generate_case
    from SynTumorLib.mrml import PANCREAS, find_segment, segment_mask, volume_from_node

    node = SampleData.downloadSample("SynTumorPhantom")
    assert node.IsA("vtkMRMLScalarVolumeNode") and node.GetName() == "SynTumorPhantom"
    image, label, _info = generate_case(**SMALL)
    loaded = volume_from_node(node)
    np.testing.assert_array_equal(loaded.array, image.array)
    assert loaded.same_grid(image, atol=1e-4)
    seg = release.scene.GetFirstNodeByName("SynTumorPhantom segmentation")
    assert seg is not None and seg.IsA("vtkMRMLSegmentationNode")
    pancreas = segment_mask(seg, find_segment(seg, PANCREAS), node)
    np.testing.assert_array_equal(pancreas.array, (label.array == 1).astype(np.uint8))

    from SynTumorInsertionLib import sample_data

    files = sorted(sample_data.phantomFolder().iterdir())
    stamps = [f.stat().st_mtime_ns for f in files]
    again = SampleData.downloadSample("SynTumorPhantom")  # generated once, then reused
    assert again.GetID() != node.GetID() and [f.stat().st_mtime_ns for f in files] == stamps


def test_a_failure_is_named_to_a_script_and_shown_by_the_button(release, monkeypatch):
    import SampleData
    from SynTumorInsertionLib import sample_data

    def broken(folder):
        raise OSError("disk full")

    monkeypatch.setattr(sample_data, "writePhantomFiles", broken)
    with pytest.raises(sample_data.PhantomSampleError, match="could not generate the SynTumor phantom.*disk full"):
        SampleData.downloadSample("SynTumorPhantom")
    shown = []
    monkeypatch.setattr(release.slicer.util, "errorDisplay", lambda text, **kw: shown.append(text))
    source = SampleData.SampleDataLogic().sourceForSampleName("SynTumorPhantom")
    assert source.customDownloader(source) == []  # the Sample Data button
    assert len(shown) == 1 and "Could not load the SynTumor phantom" in shown[0] and "disk full" in shown[0]
    assert release.scene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode") is None  # nothing half-loaded
