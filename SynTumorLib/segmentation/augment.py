"""Augmentation and online tumour synthesis for training crops.

Order matters (the reference synthesised *after* intensity augmentation, so synthetic tumours got
textures no real tumour had): online synthesis in HU on healthy crops → HU window to [0, 1] →
rotation, flip, shift and intensity scale/shift. Every random draw is seeded per sample, so a crop
is reproducible from ``(seed, rank, sample number)`` alone.

Example:
    >>> import numpy as np
    >>> aug = make_augmenter({"rotate_prob": 1.0, "rotate_deg": 10, "flip_prob": 0.5, "translate_prob": 0,
    ...                       "translate_vox": 0, "intensity_prob": 1.0, "scale_intensity": 0.1,
    ...                       "shift_intensity": 0.1})
    >>> s = {"image": np.random.rand(1, 16, 16, 16).astype("float32"), "label": np.zeros((1, 16, 16, 16), "float32")}
    >>> a, b = aug(s, 7), aug(s, 7)
    >>> bool(np.array_equal(np.asarray(a["image"]), np.asarray(b["image"])))
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..utils.errors import InputError


def make_augmenter(params: dict) -> Callable[[dict, int], dict]:
    """Build ``augment(sample, seed) -> sample`` from the config's ``augment`` block.

    One seeded draw per crop decides everything (rotation about the crop centre by up to
    ``rotate_deg`` per axis, shift up to ``translate_vox``, a flip per axis, intensity scale and
    shift); rotation and shift are *one* resampling (trilinear image, nearest label, border
    padding) and only happen when drawn. Written directly on numpy/torch rather than as a MONAI
    ``Compose``: MONAI's per-call random-state and MetaTensor bookkeeping cost ≈ 27 ms CPU per
    40–48³ crop even when no transform fired — about a third of a tiny U-Net's training step.
    """
    p = {k: float(v) for k, v in params.items()}
    rad, t = math.radians(p["rotate_deg"]), p["translate_vox"]
    s_int, o_int = p["scale_intensity"], p["shift_intensity"]

    def augment(sample: dict, seed: int) -> dict:
        rng = np.random.default_rng(int(seed) % (2**32))
        # every draw happens whatever fires, so each transform's randomness is independent of the others
        rotate, angles = rng.random() < p["rotate_prob"], rng.uniform(-rad, rad, 3)
        shift_on, shift = rng.random() < p["translate_prob"] and t > 0, rng.uniform(-t, t, 3)
        flips = rng.random(3) < p["flip_prob"]
        scale_on, factor = rng.random() < p["intensity_prob"], rng.uniform(-s_int, s_int)
        offset_on, offset = rng.random() < p["intensity_prob"], rng.uniform(-o_int, o_int)
        img = np.asarray(sample["image"], dtype=np.float32)
        lab = np.asarray(sample["label"], dtype=np.float32)
        if rotate or shift_on:
            img, lab = _affine(img, lab, angles if rotate else np.zeros(3), shift if shift_on else np.zeros(3))
        axes = tuple(1 + int(a) for a in np.flatnonzero(flips))
        if axes:
            img, lab = np.flip(img, axes), np.flip(lab, axes)
        if scale_on:
            img = img * np.float32(1.0 + factor)
        if offset_on:
            img = img + np.float32(offset)
        return {"image": np.ascontiguousarray(img, dtype=np.float32), "label": np.ascontiguousarray(lab)}

    return augment


def _rotation(angles: np.ndarray) -> np.ndarray:
    """Rotation matrix (array axes k, j, i) = R_k · R_j · R_i for angles about each array axis."""
    out = np.eye(3)
    for axis, a in enumerate(angles):
        c, s = math.cos(a), math.sin(a)
        u, v = [ax for ax in range(3) if ax != axis]
        r = np.eye(3)
        r[u, u], r[u, v], r[v, u], r[v, v] = c, -s, s, c
        out = out @ r
    return out


def _affine(img: np.ndarray, lab: np.ndarray, angles: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate (about the centre) and shift (voxels) a (1, D, H, W) image and label in one resampling."""
    import torch
    import torch.nn.functional as F

    size = np.asarray(img.shape[1:], dtype=np.float64)
    half = np.maximum((size - 1) / 2, 0.5)  # voxel ↔ normalised coordinates (align_corners=True)
    a = (_rotation(angles) * half[None, :]) / half[:, None]  # D⁻¹ R D: isotropic in voxels for any crop shape
    b = shift / half
    perm = [2, 1, 0]  # affine_grid wants x (last array axis) first
    theta = np.concatenate([a[np.ix_(perm, perm)], b[perm, None]], axis=1)
    grid = F.affine_grid(torch.as_tensor(theta, dtype=torch.float32)[None], [1, 1, *img.shape[1:]], align_corners=True)
    x = F.grid_sample(torch.from_numpy(np.ascontiguousarray(img))[None], grid, mode="bilinear", padding_mode="border",
                      align_corners=True)
    y = F.grid_sample(torch.from_numpy(np.ascontiguousarray(lab))[None], grid, mode="nearest", padding_mode="border",
                      align_corners=True)
    return x[0].numpy(), y[0].numpy()


def make_synthesizer(arm: str, prob: float, spacing_kji: Sequence[float], size_classes: str | dict = "syntumor",
                     texture: Any = "statistical") -> Callable[[dict, int], dict] | None:
    """Online synthesis ``synthesize(sample, seed) -> sample`` for healthy crops (HU), or None for arm 'none'.

    Wraps ``SynTumorLib.insertion.transform.SynthesizeTumourd`` (a MONAI dictionary transform that
    inserts tumours of the arm's size class — class ``arm`` of ``size_classes`` (a preset, a
    size-class JSON or its object), or, for an arm that is itself a size-class JSON, its classes
    mixed — with probability ``prob`` and labels them 2). ``spacing_kji``: voxel size of the crop's
    array axes. ``texture``: the texture backend (a name, fitted JSON, model folder — SynTumor's
    diffusion or an imported DiffTumor one — or a record-style dict).
    """
    if arm == "none":
        return None
    try:
        from ..insertion.transform import SynthesizeTumourd
    except ImportError as e:
        raise InputError(f"online synthesis (arm '{arm}') needs SynTumorLib.insertion.transform ({e})") from None
    from ..geometry.sizes import arm_classes

    size_class, classes = arm_classes(arm, size_classes)
    transform = SynthesizeTumourd(keys=("image", "label"), size_class=size_class, classes=classes, prob=float(prob),
                                  intensity="hu", spacing=tuple(float(s) for s in spacing_kji), record_key=None,
                                  texture=texture)

    def synthesize(sample: dict, seed: int) -> dict:
        transform.set_random_state(seed=int(seed) % (2**32))
        out = transform(dict(sample))
        return {k: (v.numpy() if hasattr(v, "numpy") else np.asarray(v)) for k, v in out.items()}

    return synthesize
