"""Slices with label overlays, written as PNG (matplotlib, Agg backend — no display needed).

Physical aspect ratios are respected (anisotropic voxels are drawn with their true proportions) and
slices are shown in radiological convention for axial views (patient's right on the image left,
anterior up) when the volume is axis-aligned.

Example:
    >>> import numpy as np, tempfile, os
    >>> from SynTumorLib import Volume
    >>> img = Volume.from_geometry(np.zeros((8, 16, 16), np.int16), spacing=(1, 1, 2))
    >>> lab = img.with_array((np.indices(img.shape)[2] > 8).astype(np.uint8))
    >>> p = save_slices_png(img, lab, os.path.join(tempfile.mkdtemp(), "s.png"))
    >>> p.exists()
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.volume import Volume
from .figure import pyplot, save_figure

# label value -> (name, RGBA) ; pancreas green, tumour red, extra labels yellow / cyan
LABEL_COLOURS = {1: (0.2, 0.85, 0.3, 0.35), 2: (0.95, 0.15, 0.1, 0.55), 3: (1.0, 0.85, 0.1, 0.5), 4: (0.1, 0.8, 0.95, 0.5)}


def label_rgba(label2d: np.ndarray, colours: dict | None = None) -> np.ndarray:
    colours = colours or LABEL_COLOURS
    rgba = np.zeros(label2d.shape + (4,), np.float32)
    for value, colour in colours.items():
        rgba[label2d == value] = colour
    return rgba


def extract_plane(volume: Volume, plane: str, index: int) -> tuple[np.ndarray, float]:
    """A 2-D slice oriented for display (rows top→bottom) and its pixel aspect (height/width)."""
    a = volume.array
    axis = {"axial": 0, "coronal": 1, "sagittal": 2}.get(plane)
    if axis is not None and not 0 <= index < a.shape[axis]:
        raise ValueError(f"{plane} slice index {index} is outside the volume (0–{a.shape[axis] - 1})")
    sk, sj, si = volume.array_spacing
    if plane == "axial":  # k fixed: rows j, cols i
        sl, aspect = a[index, :, :], sj / si
        # rows: anterior up (flip when j grows anterior); columns: radiological convention, the
        # patient's right on the image left (flip when i grows towards the patient's right)
        sl = sl[::-1, :] if volume.direction_ras[1, 1] > 0 else sl
        sl = sl[:, ::-1] if volume.direction_ras[0, 0] > 0 else sl
    elif plane == "coronal":  # j fixed: rows k (superior up), cols i
        sl, aspect = a[::-1, index, :], sk / si
        sl = sl[:, ::-1] if volume.direction_ras[0, 0] > 0 else sl
        sl = sl[::-1, :] if volume.direction_ras[2, 2] < 0 else sl
    elif plane == "sagittal":  # i fixed: rows k, cols j
        # anterior on the image left, superior up
        sl, aspect = a[::-1, :, index], sk / sj
        sl = sl[:, ::-1] if volume.direction_ras[1, 1] > 0 else sl
        sl = sl[::-1, :] if volume.direction_ras[2, 2] < 0 else sl
    else:
        raise ValueError(f"unknown plane {plane!r}")
    return np.asarray(sl), float(aspect)


def centre_of(label: Volume | None, shape: Sequence[int], value: int | None = None) -> tuple[int, int, int]:
    """Centre (k, j, i) of a label value (default: the highest present value), else of the grid."""
    if label is not None:
        arr = label.array
        vals = [v for v in np.unique(arr) if v != 0]
        if vals:
            v = value if value is not None and value in vals else max(vals)
            idx = np.argwhere(arr == v)
            return tuple(int(x) for x in np.round(idx.mean(axis=0)))  # type: ignore[return-value]
    return tuple(int(s) // 2 for s in shape)  # type: ignore[return-value]


def draw_panel(ax, image: Volume, label: Volume | None, plane: str, index: int, window=(-175, 250),
               title: str | None = None, contour_only: bool = False) -> None:
    sl, aspect = extract_plane(image, plane, index)
    ax.imshow(sl, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect, interpolation="nearest")
    if label is not None:
        lab, _ = extract_plane(label, plane, index)
        if contour_only:
            for value, colour in LABEL_COLOURS.items():
                if np.any(lab == value):
                    ax.contour((lab == value).astype(float), levels=[0.5], colors=[colour[:3]], linewidths=1.0)
        else:
            ax.imshow(label_rgba(lab), aspect=aspect, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)


def save_slices_png(image: Volume, label: Volume | None, path: str | os.PathLike,
                    planes: Sequence[str] = ("axial", "coronal"), centre_kji: Sequence[int] | None = None,
                    window=(-175, 250), title: str | None = None, contour_only: bool = False) -> Path:
    """Axial/coronal/sagittal slices through ``centre_kji`` (default: centre of the tumour, else of
    the pancreas, else of the grid) with the label overlaid (pancreas green, tumour red)."""
    plt = pyplot()
    c = centre_kji if centre_kji is not None else centre_of(label, image.shape)
    axis_of = {"axial": 0, "coronal": 1, "sagittal": 2}
    fig, axes = plt.subplots(1, len(planes), figsize=(4 * len(planes), 4))
    axes = np.atleast_1d(axes)
    for ax, plane in zip(axes, planes, strict=True):
        draw_panel(ax, image, label, plane, int(c[axis_of[plane]]), window, plane, contour_only)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def save_gallery_png(panels: Sequence[dict], path: str | os.PathLike, ncols: int = 4, title: str | None = None) -> Path:
    """A grid of panels; each panel is a dict with ``image`` (Volume), optional ``label``,
    ``plane`` (default axial), ``index`` (default: centre of label), ``title``, ``contour_only``."""
    plt = pyplot()
    n = max(1, len(panels))
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), squeeze=False)
    axis_of = {"axial": 0, "coronal": 1, "sagittal": 2}
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, p in zip(axes.ravel(), panels, strict=False):  # the grid may have more cells than panels
        plane = p.get("plane", "axial")
        idx = p.get("index")
        if idx is None:
            idx = centre_of(p.get("label"), p["image"].shape)[axis_of[plane]]
        draw_panel(ax, p["image"], p.get("label"), plane, int(idx), p.get("window", (-175, 250)),
                   p.get("title"), p.get("contour_only", False))
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)
