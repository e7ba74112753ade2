"""A harness that runs 3D Slicer's own Python layer — the parameterNodeWrapper, ScriptedLoadableModule,
util, i18n, packaging and SampleData of Slicer 5.10.0 and 5.12.3, copied unmodified into
``../shared/slicer`` — over the ``slicer-core`` wheel's MRML classes, with small stand-ins for what
only the application has (qt, ctk, Slicer's widget classes, ``slicer.app``).

* ``sources``: where Slicer's code is; the releases; skip (or, in CI, fail) when it is absent.
* ``standins``: stand-in qt / ctk modules and widget classes with the behaviour the connectors use.
* ``uifile``: a ``QUiLoader`` stand-in that builds a panel of stand-in widgets from a ``.ui`` file.
* ``release``: ``slicer_release(version)`` — that release's Python layer imported over slicer-core.
* ``sem``: Slicer's CLI XML parser (``sem_check``, and ``sem_dump`` for its parameter list) and the
  command line Slicer builds from it (``vtkSlicerCLIModuleLogic``'s rules).

Importing this package puts the module folders and ``SynTumor/`` (``SynTumorCommon``) on ``sys.path``
(Slicer does the same: it appends each scripted module's folder).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SYNTUMOR = REPO / "SynTumor"
MODULES = ("SynTumorInsertion", "SynTumorLabelNoise", "SynTumorSegmentation")


def add_module_paths() -> None:
    for path in (SYNTUMOR, *(SYNTUMOR / m for m in MODULES), REPO):
        if str(path) not in sys.path:
            sys.path.append(str(path))


add_module_paths()
