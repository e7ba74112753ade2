"""SynTumorLib — synthetic pancreatic tumours in CT.

The library behind the SynTumor 3D Slicer extension. It never imports qt, ctk or slicer.app; the
only module that touches MRML is ``SynTumorLib.mrml``. Heavy dependencies (torch, MONAI) are
imported lazily, so ``import SynTumorLib`` stays fast; the names below are resolved on first use.

Public API (each entry has a docstring example):
    Volume, read_volume, write_volume, write_dicom_series      -- data.volume, data.io
    resample_to_spacing, resample_like, window, unwindow        -- data.resample, data.intensity
    open_dataset, check_dataset, export_nnunet, MSDWriter       -- data.datasets, data.check, ...
    generate_case, generate_cohort                              -- data.phantom (the built-in CT phantom)
    load_size_classes, InsertionSpec, insert_tumours, replay    -- geometry.sizes, insertion
    get_texture                                                 -- texture (statistical / diffusion)
    corrupt_label, replay_corruption, corrupt_dataset           -- corruption (label noise)
    dice, normalized_surface_dice, evaluate_case, evaluate_folders -- metrics
    TrainConfig, train, load_model, predict_volume, make_splits -- segmentation
    run_study, run_demo                                         -- experiments, demo

Example:
    >>> import SynTumorLib as st
    >>> img, lab, info = st.generate_case(seed=1, spacing=(3.0, 3.0, 3.0))
    >>> new, label, record = st.insert_tumours(img, lab, {"size_class": "medium"}, seed=7)
    >>> int((label.array == 2).sum()) > 0 and record["seed"] == 7
    True
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .data.volume import Volume  # noqa: E402
from .utils.errors import InputError, ModelFolderError, SynTumorError  # noqa: E402

# name -> module that defines it (imported on first attribute access, PEP 562)
_LAZY = {
    "read_volume": "data.io", "write_volume": "data.io", "write_dicom_series": "data.io",
    "resample_to_spacing": "data.resample", "resample_like": "data.resample",
    "window": "data.intensity", "unwindow": "data.intensity",
    "open_dataset": "data.datasets", "check_dataset": "data.check", "export_nnunet": "data.nnunet_export",
    "MSDWriter": "data.msd",
    "generate_case": "data.phantom", "generate_cohort": "data.phantom",
    "load_size_classes": "geometry.sizes",
    "InsertionSpec": "insertion", "insert_tumours": "insertion", "replay": "insertion",
    "get_texture": "texture",
    "corrupt_label": "corruption", "replay_corruption": "corruption", "corrupt_dataset": "corruption",
    "dice": "metrics", "normalized_surface_dice": "metrics",
    "evaluate_case": "metrics", "evaluate_folders": "metrics",
    "TrainConfig": "segmentation", "train": "segmentation", "load_model": "segmentation",
    "predict_volume": "segmentation", "make_splits": "segmentation",
    "run_study": "experiments", "run_demo": "demo",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'SynTumorLib' has no attribute {name!r}")


__all__ = ["__version__", "Volume", "SynTumorError", "InputError", "ModelFolderError", *_LAZY]
