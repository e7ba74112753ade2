"""Figures of the demo report: insertion galleries, label-noise contours, predictions vs ground
truth and training-loss curves (PNG via matplotlib's Agg backend; no display needed).

Example:
    >>> import numpy as np, tempfile, os
    >>> from SynTumorLib import Volume
    >>> img = Volume.from_geometry(np.zeros((8, 24, 24), np.int16), spacing=(2, 2, 2))
    >>> lab = np.zeros((8, 24, 24), np.uint8); lab[2:6, 6:18, 6:18] = 1; lab[3:5, 9:14, 9:14] = 2
    >>> p = noise_gallery(img, img.with_array(lab), {"low": img.with_array(lab)}, {"low": 1.0},
    ...                   os.path.join(tempfile.mkdtemp(), "n.png"), "case")
    >>> p.exists()
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.volume import Volume
from ..viz import pyplot, save_figure
from ..viz.overlay import centre_of, extract_plane, save_gallery_png

CLEAN, NOISY = "#ffd400", "#ff2a1a"  # contour colours: clean label yellow, corrupted / predicted red


def _zoom_box(mask2d: np.ndarray, margin: int, shape: tuple[int, int]) -> tuple[slice, slice]:
    """A square-ish box around a 2-D mask (the whole slice when the mask is empty)."""
    if not mask2d.any():
        return slice(0, shape[0]), slice(0, shape[1])
    rows, cols = np.nonzero(mask2d)
    r0, r1 = max(0, rows.min() - margin), min(shape[0], rows.max() + margin + 1)
    c0, c1 = max(0, cols.min() - margin), min(shape[1], cols.max() + margin + 1)
    return slice(r0, r1), slice(c0, c1)


def insertion_gallery(panels: Sequence[dict], path: str | os.PathLike, title: str) -> Path:
    """Axial slices through each inserted tumour (tumour red, pancreas green contours)."""
    ps = [{**p, "contour_only": True, "index": centre_of(p["label"], p["image"].shape, 2)[0]} for p in panels]
    return save_gallery_png(ps, path, ncols=min(4, len(ps)), title=title)


def noise_gallery(image: Volume, clean: Volume, noisy: dict[str, Volume], sigma_mm: dict[str, float],
                  path: str | os.PathLike, case: str) -> Path:
    """One axial slice through the tumour, zoomed: the clean contour (yellow) and each level's (red)."""
    plt = pyplot()
    k = centre_of(clean, clean.shape, 2)[0]
    img, aspect = extract_plane(image, "axial", k)
    ref, _ = extract_plane(clean, "axial", k)
    box = _zoom_box(ref == 2, 8, ref.shape)
    fig, axes = plt.subplots(1, len(noisy) + 1, figsize=(2.6 * (len(noisy) + 1), 2.9), squeeze=False)
    panels = [("clean label", None)] + [(f"{lv} (σ {sigma_mm[lv]:.2f} mm)", v) for lv, v in noisy.items()]
    for ax, (name, vol) in zip(axes[0], panels, strict=True):
        ax.imshow(img[box], cmap="gray", vmin=-175, vmax=250, aspect=aspect, interpolation="nearest")
        if vol is not None:  # the corrupted contour first, so the clean one (dashed) stays visible on top
            lab, _ = extract_plane(vol, "axial", k)
            if (lab[box] == 2).any():
                ax.contour((lab[box] == 2).astype(float), levels=[0.5], colors=[NOISY], linewidths=1.4)
        if (ref[box] == 2).any():
            ax.contour((ref[box] == 2).astype(float), levels=[0.5], colors=[CLEAN], linewidths=1.0,
                       linestyles="-" if vol is None else "--")
        ax.set_title(name, fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"{case}: clean tumour label (yellow, dashed) and its elastic corruption (red), axial slice {k}", fontsize=9)
    return save_figure(fig, path)


def prediction_gallery(image: Volume, ref: Volume, preds: dict[str, Volume], path: str | os.PathLike,
                       case: str) -> Path:
    """The test case's ground truth and every arm's prediction, zoomed on the pancreas, at the slice
    through the reference tumour's centre (tumour red, pancreas green)."""
    plt = pyplot()
    k = centre_of(ref, ref.shape, 2)[0]
    img, aspect = extract_plane(image, "axial", k)
    gt, _ = extract_plane(ref, "axial", k)
    box = _zoom_box(gt > 0, 6, gt.shape)
    panels = [("ground truth", gt)] + [(arm, extract_plane(v, "axial", k)[0]) for arm, v in preds.items()]
    ncols = min(6, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.5 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, (name, lab) in zip(axes.ravel(), panels, strict=False):
        ax.imshow(img[box], cmap="gray", vmin=-175, vmax=250, aspect=aspect, interpolation="nearest")
        for value, colour in ((1, "#33d94d"), (2, NOISY)):
            if (lab[box] == value).any():
                ax.contour((lab[box] == value).astype(float), levels=[0.5], colors=[colour], linewidths=1.0)
        if name != "ground truth" and (gt[box] == 2).any():  # the reference tumour, dotted, for comparison
            ax.contour((gt[box] == 2).astype(float), levels=[0.5], colors=[CLEAN], linewidths=0.8, linestyles=":")
        ax.set_title(name, fontsize=7)
    fig.suptitle(f"Test case {case}, axial slice {k}: prediction (pancreas green, tumour red; reference tumour "
                 "dotted yellow)", fontsize=9)
    return save_figure(fig, path)


def loss_curves(histories: dict[str, list[dict]], path: str | os.PathLike, title: str) -> Path:
    """Training loss (Dice + CE) against the step, one line per arm; validation tumour Dice dotted."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    cmap = plt.get_cmap("tab20")
    for n, (arm, hist) in enumerate(histories.items()):
        colour = cmap(n % 20)
        axes[0].plot([r["step"] for r in hist], [r["loss"] for r in hist], lw=1.0, color=colour, label=arm)
        val = [r for r in hist if r.get("val_tumour_dice") not in (None, "")]
        if val:
            axes[1].plot([r["step"] for r in val], [r["val_tumour_dice"] for r in val], "o-", ms=3, color=colour,
                         label=arm)
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("training loss")
    axes[0].grid(alpha=0.3)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("validation tumour Dice")
    axes[1].set_ylim(-0.02, 1.0)
    axes[1].grid(alpha=0.3)
    axes[0].legend(fontsize=6, ncol=2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def texture_loss_curves(logs: dict[str, str | os.PathLike], path: str | os.PathLike, title: str) -> Path:
    """The texture model's training losses from its ``loss_log.csv`` files, one panel per stage
    (name → CSV with a ``step`` column and one column per loss term; log scale, they span decades)."""
    import csv

    plt = pyplot()
    fig, axes = plt.subplots(1, max(1, len(logs)), figsize=(5 * max(1, len(logs)), 3.4), squeeze=False)
    for ax, (name, csv_path) in zip(axes[0], logs.items(), strict=False):
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        for col in (c for c in (rows[0].keys() if rows else []) if c != "step"):
            vals = [(int(r["step"]), float(r[col])) for r in rows if r.get(col) not in (None, "")]
            if any(v > 0 for _, v in vals):  # terms that stay 0 (e.g. the adversarial warm-up) are left out
                ax.plot([s for s, _ in vals], [max(v, 1e-6) for _, v in vals], "o-", ms=2, lw=1.0, label=col)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
