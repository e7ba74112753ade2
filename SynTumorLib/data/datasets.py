"""Datasets: list the cases of a dataset on disk and load them with **canonical** labels
(0 background, 1 pancreas, 2 tumour, uint8), whatever the source's own label values.

Kinds (adapters in :mod:`.dataset_adapters`):

==========  ===================================================================  =====================
kind        layout                                                               source labels
==========  ===================================================================  =====================
msd         ``dataset.json`` + ``imagesTr/`` + ``labelsTr/`` (MSD Task07, and      by name in
            every dataset SynTumor writes with ``MSDWriter``)                    ``labels``: 0/1/2
nnunet      nnU-Net v2 raw: ``dataset.json`` with ``channel_names``,              by name
            ``imagesTr/<case>_0000.nii.gz``, ``labelsTr/<case>.nii.gz``
nih         NIH Pancreas-CT: DICOM series folders ``PANCREAS_0001/…`` +           pancreas 1
            ``label0001.nii.gz``
btcv        BTCV: ``img/img0001.nii.gz`` + ``label/label0001.nii.gz``             pancreas 11, other
                                                                                 organs → 0
totalseg    TotalSegmentator output: ``ct.nii.gz`` + ``seg_multilabel.nii.gz``     pancreas 7 (v2), other
            / ``segmentations.nii.gz`` / ``seg.nii.gz`` / ``segmentations/``      classes → 0
            ``pancreas.nii.gz``, in the folder or in one folder per case
folder      ``images/`` + ``labels/`` with matching names, or pairs ``<id>.nii.gz``  ``pancreas_label``,
            + ``<id>_label.nii.gz`` / ``<id>_seg.nii.gz``                          ``tumour_label``
==========  ===================================================================  =====================

Example:
    >>> import numpy as np, tempfile
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.data.msd import MSDWriter
    >>> root = tempfile.mkdtemp()
    >>> v = Volume.from_geometry(np.zeros((4, 4, 4), np.int16))
    >>> MSDWriter(root).add_case("case_000", v, v.with_array(np.ones((4, 4, 4), np.uint8)))
    >>> ds = open_dataset(root)
    >>> ds.kind, [c.case_id for c in ds.cases()]
    ('msd', ['case_000'])
    >>> image, label = ds.load(ds.cases()[0])
    >>> label.array.dtype, int(label.array.max())
    (dtype('uint8'), 1)
"""

from __future__ import annotations

import os
from pathlib import Path

from ..utils.errors import InputError
from . import dataset_adapters as ad
from .cases import (  # noqa: F401 - the dataset types, used through this module by many callers
    DIRECTION_ATOL,
    KINDS,
    ORIGIN_ATOL_MM,
    SPACING_RTOL,
    Case,
    Dataset,
    LabelSpec,
    geometry_difference,
    label_map_from_values,
)


def open_dataset(path: str | os.PathLike, kind: str = "auto", *, pancreas_label: LabelSpec = None,
                 tumour_label: LabelSpec = None) -> Dataset:
    """Open a dataset folder; ``kind="auto"`` detects the layout (see the module docstring).

    Args:
        path: the dataset folder (or its ``dataset.json``).
        kind: ``auto`` or one of :data:`KINDS`.
        pancreas_label, tumour_label: source label value(s) of pancreas and tumour; they replace
            the adapter's default mapping (required knowledge for ``folder`` datasets whose labels
            are not 1/2).

    Raises:
        InputError: the path is missing, no layout matches, or the forced kind does not fit.
    """
    root = Path(path).resolve()  # absolute: case ids of single-case folders and messages stay meaningful
    if root.is_file() and root.name == "dataset.json":
        root = root.parent
    if not root.exists():
        raise InputError(f"{root}: dataset folder not found")
    if not root.is_dir():
        raise InputError(f"{root}: a dataset must be a folder")
    if kind == "auto":
        kind = ad.detect_kind(root)
    if kind not in ad.ADAPTERS:
        raise InputError(f"unknown dataset kind {kind!r} (choose auto or one of {', '.join(KINDS)})")
    ds = ad.ADAPTERS[kind].scan(root)
    if pancreas_label is not None or tumour_label is not None:
        # a value not given keeps the adapter's own (e.g. --tumour-label alone on BTCV keeps pancreas 11)
        own = lambda c: [k for k, v in ds.label_map.items() if v == c]  # noqa: E731
        ds.label_map = label_map_from_values(own(1) if pancreas_label is None else pancreas_label,
                                             own(2) if tumour_label is None else tumour_label)
        ds._case_label_maps = {}
    elif ds.label_problem:
        raise InputError(ds.label_problem)
    if not ds.cases() and not ds.test_cases():
        raise InputError(f"{root}: no cases found in this {kind} dataset")
    return ds
