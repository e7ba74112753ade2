"""SynTumorLib — synthetic pancreatic tumours in CT.

The library behind the SynTumor 3D Slicer extension. It never imports qt, ctk or slicer.app; the
only module that touches MRML is ``SynTumorLib.mrml``. Heavy dependencies (torch, MONAI) are
imported lazily inside the functions that need them, so ``import SynTumorLib`` stays fast.

Public API (each entry has a docstring example):
    Volume, read_volume, write_volume, write_dicom_series      -- SynTumorLib.data (volume, io)
    resample_to_spacing, resample_like, window, unwindow        -- SynTumorLib.data (resample, intensity)
    open_dataset, check_dataset, export_nnunet, MSDWriter       -- SynTumorLib.data (datasets, check, ...)
    generate_case, generate_cohort                              -- SynTumorLib.data.phantom
"""

__version__ = "0.1.0"

from .data.volume import Volume  # noqa: E402
from .data.io import read_volume, write_dicom_series, write_volume  # noqa: E402
from .data.resample import resample_like, resample_to_spacing  # noqa: E402
from .data.intensity import unwindow, window  # noqa: E402
from .data.datasets import open_dataset  # noqa: E402
from .data.check import check_dataset  # noqa: E402
from .data.nnunet_export import export_nnunet  # noqa: E402
from .data.msd import MSDWriter  # noqa: E402
from .data.phantom import generate_case, generate_cohort  # noqa: E402
from .utils.errors import InputError, ModelFolderError, SynTumorError  # noqa: E402

__all__ = [
    "__version__", "Volume", "read_volume", "write_volume", "write_dicom_series", "resample_to_spacing",
    "resample_like", "window", "unwindow", "open_dataset", "check_dataset", "export_nnunet", "MSDWriter",
    "generate_case", "generate_cohort",
    "SynTumorError", "InputError", "ModelFolderError",
]
