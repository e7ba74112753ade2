"""Where Slicer's own code is, and what to do when it is not there.

The files live outside the repository (``../shared/slicer`` next to a checkout, or the folder in
``SYNTUMOR_SLICER_SOURCES``). Without them the harness tests skip, naming what is missing — unless
``SYNTUMOR_REQUIRE_SLICER_HARNESS=1`` (set by ``.ci/run``), which turns the skip into a failure so
that CI cannot pass without running Slicer's code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import REPO

SUPPORTED_RELEASES = ("5.10.0", "5.12.3")
# tools/slicer_stack.sh runs one release per venv (its numpy/scipy): SYNTUMOR_SLICER_RELEASES=5.12.3
RELEASES = tuple(os.environ.get("SYNTUMOR_SLICER_RELEASES", "").split()) or SUPPORTED_RELEASES


def slicer_sources() -> Path:
    env = os.environ.get("SYNTUMOR_SLICER_SOURCES")
    return Path(env) if env else REPO.parent / "shared" / "slicer"


def required() -> bool:
    return os.environ.get("SYNTUMOR_REQUIRE_SLICER_HARNESS", "") not in ("", "0")


def missing(what: str) -> None:
    """Skip (or fail, in CI) because ``what`` is absent."""
    message = (f"{what} not found (set SYNTUMOR_SLICER_SOURCES to the folder with Slicer's code: "
               f"v5.10.0/, v5.12.3/, sem/)")
    if required():
        pytest.fail(message)
    pytest.skip(message)


def release_dir(version: str) -> Path:
    path = slicer_sources() / f"v{version}"
    if not (path / "slicer" / "parameterNodeWrapper" / "wrapper.py").is_file():
        missing(f"Slicer {version}'s Python layer ({path})")
    return path


def sem_dir() -> Path:
    path = slicer_sources() / "sem"
    if not (path / "build.sh").is_file():
        missing(f"SlicerExecutionModel's ModuleDescriptionParser ({path})")
    return path
