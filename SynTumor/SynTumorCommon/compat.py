"""Which 3D Slicer SynTumor supports, and what an older one shows instead of a traceback.

SynTumorLib and its pinned dependencies (torch >= 2.8, MONAI 1.6) need Python 3.10 or later;
Slicer ships Python 3.9 up to 5.8 and Python 3.12 from 5.10 on. This file runs on both, so it is
the first thing every module file imports.

>>> slicerVersionProblem((5, 10, 0), (3, 12, 10)) is None
True
>>> print(slicerVersionProblem((5, 8, 1), (3, 9, 10)))  # doctest: +ELLIPSIS
SynTumor needs 3D Slicer 5.10 or later (Python 3.10 or later); this is Slicer 5.8.1 with Python 3.9...
"""

from __future__ import annotations

import sys

MINIMUM_SLICER = (5, 10)
MINIMUM_PYTHON = (3, 10)
DOWNLOAD_URL = "https://download.slicer.org"


def runningSlicerVersion() -> tuple[int, int, int] | None:
    """(major, minor, patch) of the running Slicer application; None outside it (PythonSlicer, tests)."""
    try:
        import slicer

        app = getattr(slicer, "app", None)
        if app is None:
            return None
        return int(app.majorVersion), int(app.minorVersion), int(getattr(app, "patchVersion", 0))
    except (ImportError, AttributeError, TypeError, ValueError):
        return None


def slicerVersionProblem(slicerVersion: tuple[int, ...] | None = None,
                         pythonVersion: tuple[int, ...] | None = None) -> str | None:
    """A message for the user when this Slicer (or its Python) is too old for SynTumor; None when fine.

    Both versions default to the running ones; without a Slicer application only Python is checked.
    """
    slicerVersion = runningSlicerVersion() if slicerVersion is None else tuple(slicerVersion)
    pythonVersion = tuple(sys.version_info[:3]) if pythonVersion is None else tuple(pythonVersion)
    tooOldSlicer = slicerVersion is not None and tuple(slicerVersion[:2]) < MINIMUM_SLICER
    tooOldPython = tuple(pythonVersion[:2]) < MINIMUM_PYTHON
    if not (tooOldSlicer or tooOldPython):
        return None
    this = "this is " + (f"Slicer {'.'.join(str(v) for v in slicerVersion)} with " if slicerVersion else "")
    this += f"Python {'.'.join(str(v) for v in pythonVersion)}"
    return (f"SynTumor needs 3D Slicer {MINIMUM_SLICER[0]}.{MINIMUM_SLICER[1]} or later "
            f"(Python {MINIMUM_PYTHON[0]}.{MINIMUM_PYTHON[1]} or later); {this}. "
            f"Install a current Slicer from {DOWNLOAD_URL} and add SynTumor from its Extensions Manager.")
