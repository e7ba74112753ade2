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

import numpy as np

from ..utils.errors import InputError


def make_augmenter(params: dict) -> Callable[[dict, int], dict]:
    """Build ``augment(sample, seed) -> sample`` from the config's ``augment`` block (MONAI transforms)."""
    from monai.transforms import Compose, RandAffined, RandFlipd, RandScaleIntensityd, RandShiftIntensityd

    keys = ("image", "label")
    rad = math.radians(float(params["rotate_deg"]))
    transforms = []
    if params["rotate_prob"] > 0:
        transforms.append(RandAffined(keys, prob=float(params["rotate_prob"]), rotate_range=(rad, rad, rad),
                                      mode=("bilinear", "nearest"), padding_mode="border"))
    if params["translate_prob"] > 0 and params["translate_vox"] > 0:
        t = float(params["translate_vox"])
        transforms.append(RandAffined(keys, prob=float(params["translate_prob"]), translate_range=(t, t, t),
                                      mode=("bilinear", "nearest"), padding_mode="border"))
    for axis in range(3):
        if params["flip_prob"] > 0:
            transforms.append(RandFlipd(keys, prob=float(params["flip_prob"]), spatial_axis=axis))
    if params["intensity_prob"] > 0:
        transforms.append(RandScaleIntensityd("image", factors=float(params["scale_intensity"]),
                                              prob=float(params["intensity_prob"])))
        transforms.append(RandShiftIntensityd("image", offsets=float(params["shift_intensity"]),
                                              prob=float(params["intensity_prob"])))
    pipeline = Compose(transforms)

    def augment(sample: dict, seed: int) -> dict:
        pipeline.set_random_state(seed=int(seed) % (2**32))
        out = pipeline(dict(sample))
        return {k: np.asarray(getattr(v, "array", v)) if not hasattr(v, "numpy") else v.numpy() for k, v in out.items()}

    return augment


def make_synthesizer(arm: str, prob: float, spacing_kji: Sequence[float]) -> Callable[[dict, int], dict] | None:
    """Online synthesis ``synthesize(sample, seed) -> sample`` for healthy crops (HU), or None for arm 'none'.

    Wraps ``SynTumorLib.insertion.transform.SynthesizeTumourd`` (a MONAI dictionary transform that
    inserts tumours of the arm's size class — the ``syntumor`` preset's radii, or the classes of a
    size-class JSON mixed — with probability ``prob`` and labels them 2). ``spacing_kji``: voxel
    size of the crop's array axes.
    """
    if arm == "none":
        return None
    try:
        from ..insertion.transform import SynthesizeTumourd
    except ImportError as e:
        raise InputError(f"online synthesis (arm '{arm}') needs SynTumorLib.insertion.transform ({e})") from None
    # a size-class JSON defines its own classes; train on their mix
    size_class, classes = ("mixed", arm) if arm.endswith(".json") else (arm, "syntumor")
    transform = SynthesizeTumourd(keys=("image", "label"), size_class=size_class, classes=classes, prob=float(prob),
                                  intensity="hu", spacing=tuple(float(s) for s in spacing_kji), record_key=None)

    def synthesize(sample: dict, seed: int) -> dict:
        transform.set_random_state(seed=int(seed) % (2**32))
        out = transform(dict(sample))
        return {k: (v.numpy() if hasattr(v, "numpy") else np.asarray(v)) for k, v in out.items()}

    return synthesize
