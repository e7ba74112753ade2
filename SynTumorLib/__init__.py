"""SynTumorLib — synthetic pancreatic tumours in CT.

The library behind the SynTumor 3D Slicer extension. It never imports qt, ctk or slicer.app; the
only module that touches MRML is ``SynTumorLib.mrml``. Heavy dependencies (torch, MONAI) are
imported lazily inside the functions that need them, so ``import SynTumorLib`` stays fast.

Public API (each entry has a docstring example):
    Volume, read_volume, write_volume            -- SynTumorLib.data
"""

__version__ = "0.1.0"

from .data.volume import Volume  # noqa: E402
from .data.io import read_volume, write_volume  # noqa: E402
from .utils.errors import InputError, ModelFolderError, SynTumorError  # noqa: E402

__all__ = ["__version__", "Volume", "read_volume", "write_volume", "SynTumorError", "InputError", "ModelFolderError"]
