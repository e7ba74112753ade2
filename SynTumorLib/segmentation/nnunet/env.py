"""What the caller and the nnU-Net child process share: the folder variables and the error line.

Kept apart from :mod:`.run` so that importing the package never imports the child's module (which
``python -m`` must execute fresh).
"""

from __future__ import annotations

import os
from pathlib import Path

ERROR_PREFIX = "SYNTUMOR-ERROR: "
PARENT_PID_ENV = "SYNTUMOR_PARENT_PID"  # the child watches this process and exits when it dies


def set_nnunet_env(work: Path, environ=os.environ) -> None:
    """Point nnU-Net's three folders into ``work`` (in ``environ``: the child's environment)."""
    environ["nnUNet_raw"] = str(work / "nnUNet_raw")
    environ["nnUNet_preprocessed"] = str(work / "nnUNet_preprocessed")
    environ["nnUNet_results"] = str(work / "nnUNet_results")
