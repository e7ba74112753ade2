"""Configuring the extension against a Slicer older than 5.10 fails with a clear message (AUDIT A3),
against 5.10 and 5.12 it succeeds. The stub Slicer of test_cmake_lists.py, with the
SlicerConfigVersion.cmake a Slicer build tree has next to SlicerConfig.cmake (from it find_package
sets Slicer_VERSION)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cmake_support import STUB_SLICER_CONFIG, stub_config_version

REPO = Path(__file__).resolve().parents[1]


def configure(tmp_path: Path, version: str | None) -> subprocess.CompletedProcess:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    stub = tmp_path / f"stub-{version}"
    stub.mkdir()
    (stub / "SlicerConfig.cmake").write_text(STUB_SLICER_CONFIG)
    if version is not None:
        (stub / "SlicerConfigVersion.cmake").write_text(stub_config_version(version))
    (stub / "UseSlicer.cmake").write_text("set(BUILD_TESTING OFF)\n")
    (stub / "Noop.cmake").write_text("\n")
    return subprocess.run([cmake, "-S", str(REPO), "-B", str(tmp_path / f"build-{version}"), f"-DSlicer_DIR={stub}"],
                          capture_output=True, text=True, encoding="utf-8", timeout=240)


@pytest.mark.parametrize("version", ["5.6.0", "5.8.1", None])
def test_an_older_slicer_is_refused_with_a_clear_message(tmp_path, version):
    r = configure(tmp_path, version)
    assert r.returncode != 0
    assert "SynTumor needs 3D Slicer 5.10 or later" in r.stderr, r.stderr[-2000:]


@pytest.mark.parametrize("version", ["5.10.0", "5.12.3"])
def test_a_supported_slicer_configures(tmp_path, version):
    r = configure(tmp_path, version)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
