"""Online tumour synthesis on training crops: the MONAI dictionary transform ``SynthesizeTumourd``.

Put it **before** intensity augmentation (the reference synthesised after it, so its tumours carried
no augmentation). On each call, with probability ``prob``, a crop that shows pancreas (label 1) and
no real tumour (label 2) receives synthetic tumours of a size class drawn with ``probabilities``;
real-tumour crops and crops without pancreas pass through untouched (as in the reference). Image and
label change together — the label's new tumour voxels are exactly the tumour the image received.

Works on numpy arrays, torch tensors and MONAI ``MetaTensor`` s of shape (C, X, Y, Z) (channel 0 is
used; the type, dtype, device and metadata are kept). The image is HU (``intensity="hu"``) or
windowed to [0, 1] (``intensity="window"``, window ``(-175, 250)`` as in the paper). Voxel spacing
comes from the MetaTensor's affine, else from ``spacing`` (default 1 mm, the reference's crops).

Each call records what it did: ``self.last_record`` and, when ``record_key`` is set, a JSON string
in the data dict (strings collate in DataLoaders). A record with ``"applied": true`` holds the
``insert_tumours`` record, which ``replay`` reproduces on the same crop.

Example:
    >>> import numpy as np
    >>> k, j, i = np.indices((40, 40, 40))
    >>> organ = ((j - 20) ** 2 + (i - 20) ** 2 < 120) & (abs(k - 20) < 15)
    >>> d = {"image": np.where(organ, 0.6, 0.2)[None].astype(np.float32),
    ...      "label": organ[None].astype(np.uint8)}
    >>> t = SynthesizeTumourd(size_class="small", prob=1.0, intensity="window")
    >>> _ = t.set_random_state(seed=0)
    >>> out = t(d)
    >>> bool((out["label"] == 2).any()), t.last_record["applied"]
    (True, True)
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable

from ..data.intensity import HU_WINDOW, unwindow, window
from ..data.volume import Volume
from ..texture.registry import get_texture
from ..utils.errors import InputError
from .insert import insert_with_regions
from .spec import InsertionSpec


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _like(new0: np.ndarray, orig):
    """``orig`` with channel 0 replaced by ``new0`` — same container type, dtype, device, metadata."""
    full = np.array(_to_numpy(orig), copy=True)
    full[0] = new0.astype(full.dtype, copy=False)
    return _wrap(full, orig)


def _wrap(full: np.ndarray, orig):
    """A new numpy array ``full`` in ``orig``'s container (tensor, MetaTensor), device and metadata."""
    if not hasattr(orig, "detach"):
        return full
    import torch  # numpy does the copy: cheaper than torch.clone under the 2-core thread contention

    t = torch.from_numpy(full).to(orig.device)
    if hasattr(orig, "meta"):
        from monai.data import MetaTensor

        return MetaTensor(t, meta=dict(orig.meta), applied_operations=list(orig.applied_operations))
    return t


def _monai_ijk_to_ras(affine) -> np.ndarray:
    """A Volume's ``ijk_to_ras`` for a MONAI array ``[x, y, z]`` with ``affine`` (RAS, MONAI's
    default): the columns reversed, since Volume indexes arrays (k, j, i). Only a texture that works
    in RAS (``wants_orientation``, the DiffTumor crop) needs it; without an affine the array axes
    are (k, j, i) with k along S, as for every other texture."""
    a = _to_numpy(affine).astype(np.float64)
    m = np.eye(4)
    m[:3, :3] = a[:3, :3][:, ::-1]
    m[:3, 3] = a[:3, 3]
    return m


class SynthesizeTumourd(Randomizable, MapTransform):
    """Insert synthetic tumours into healthy training crops (dictionary transform).

    Args:
        keys: (image key, label key).
        size_class: class name or ``"mixed"``.
        classes: size-class preset, JSON path or dict (see :mod:`SynTumorLib.geometry.sizes`).
        probabilities: class weights for ``mixed``.
        prob: probability of synthesising on an eligible crop (reference: 0.5).
        intensity: ``"hu"`` or ``"window"`` (image scaled from ``window_hu`` to [0, 1]).
        window_hu: the HU window of ``intensity="window"``.
        spacing: voxel size per spatial axis (mm) when the image has no affine.
        texture: texture backend (name, fitted JSON, model folder or instance).
        min_inside, bulge_mm, placement: as in :class:`~SynTumorLib.insertion.spec.InsertionSpec`.
        max_attempts: shape draws per tumour (kept small: a crop that cannot hold the class passes
            through unchanged, with the reason in the record).
        record_key: key of the JSON record in the output dict (None: only ``last_record``).
    """

    def __init__(
        self,
        keys: KeysCollection = ("image", "label"),
        size_class: str = "mixed",
        classes: str | dict = "syntumor",
        probabilities: Mapping[str, float] | None = None,
        prob: float = 0.5,
        intensity: str = "hu",
        window_hu: Sequence[float] = HU_WINDOW,
        spacing: Sequence[float] | None = None,
        texture: Any = "statistical",
        min_inside: float = 0.9,
        bulge_mm: float | None = None,
        placement: str = "random",
        max_attempts: int = 8,
        record_key: str | None = "synthesis",
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if len(self.keys) != 2:
            raise InputError(f"SynthesizeTumourd needs two keys (image, label), got {list(self.keys)}")
        if not 0.0 <= prob <= 1.0:
            raise InputError(f"prob must be in [0, 1], got {prob}")
        if intensity not in ("hu", "window"):
            raise InputError(f"intensity must be 'hu' or 'window', got {intensity!r}")
        self.prob, self.intensity = float(prob), intensity
        self.window_hu = (float(window_hu[0]), float(window_hu[1]))
        if intensity == "window":
            unwindow(np.zeros(1, np.float32), *self.window_hu)  # checks the window (InputError)
        self.spacing = None if spacing is None else tuple(float(s) for s in spacing)
        # windowed crops clip air to the window's low end: keep the tissue window above it, so gas
        # stays forbidden even though it reads as −175 HU after unwindowing
        tissue_lo = -300.0 if intensity == "hu" else self.window_hu[0] + 25.0
        self.spec = InsertionSpec(size_class=size_class, classes=classes, probabilities=dict(probabilities or {}) or None,
                                  min_inside=min_inside, bulge_mm=bulge_mm, placement=placement,
                                  max_attempts=max_attempts, tissue_hu=(tissue_lo, 150.0)).resolved()
        self.texture = get_texture(texture)
        self.record_key = record_key
        self.last_record: dict[str, Any] = {}
        self._do = False
        self._seed = 0

    def randomize(self, data: Any = None) -> None:
        self._do = bool(self.R.random() < self.prob)
        self._seed = int(self.R.integers(0, 2**31 - 1)) if hasattr(self.R, "integers") else int(self.R.randint(0, 2**31 - 1))

    def _to_hu(self, img0: np.ndarray) -> np.ndarray:
        """The crop in HU, float32 (``unwindow`` computed in place: the same values, fewer passes)."""
        if self.intensity == "hu":
            return img0.astype(np.float32)
        lo, hi = self.window_hu
        x = np.clip(np.asarray(img0, dtype=np.float32), 0.0, 1.0)
        x *= np.float32(hi - lo)
        x += np.float32(lo)
        return x

    def _spacing(self, img, ndim: int) -> tuple[float, ...]:
        affine = getattr(img, "affine", None)
        if affine is not None:
            a = _to_numpy(affine).astype(np.float64)
            return tuple(float(s) for s in np.linalg.norm(a[:ndim, :ndim], axis=0))
        return self.spacing or (1.0,) * ndim

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        ikey, lkey = self.keys
        rec: dict[str, Any] = {"op": "SynthesizeTumourd", "applied": False, "seed": self._seed}
        if not self._do:
            rec["reason"] = "not drawn (prob)"
            return self._finish(d, rec)
        img, lab = d[ikey], d[lkey]
        img_np, lab_np = _to_numpy(img), _to_numpy(lab)
        img0, lab0 = img_np[0], lab_np[0]
        if img0.shape != lab0.shape:
            raise InputError(f"image crop {img0.shape} and label crop {lab0.shape} differ")
        if np.any(lab0 == 2):
            rec["reason"] = "crop has a real tumour"
            return self._finish(d, rec)
        organ = lab0 == 1
        if not organ.any():
            rec["reason"] = "crop has no pancreas"
            return self._finish(d, rec)
        hu = self._to_hu(img0)
        sp = self._spacing(img, 3)
        # array axes are used as-is: Volume's (k, j, i) naming only matters for point/reference modes
        vol = Volume.from_geometry(hu, spacing=sp[::-1])
        if getattr(self.texture, "wants_orientation", False) and getattr(img, "affine", None) is not None:
            vol = Volume(hu, _monai_ijk_to_ras(img.affine))  # a texture working in RAS needs the true axes
        try:  # a drawn count that does not fit is trimmed inside; only an impossible first tumour fails
            out_hu, out_lab, ins, regions = insert_with_regions(vol, vol.with_array(organ.view(np.uint8)), self.spec,
                                                    seed=self._seed, texture=self.texture)
        except InputError as e:
            rec["reason"] = f"no room: {e}"
            return self._finish(d, rec)
        # one copy of the input; only voxels the texture changed (inside its regions) are rewritten
        full = np.array(img_np, copy=True)
        new0 = full[0]
        for region in regions:
            changed = out_hu.array[region] != hu[region]
            vals = out_hu.array[region][changed]
            new0[region][changed] = vals if self.intensity == "hu" else window(vals, *self.window_hu)
        d[ikey] = _wrap(full, img)
        d[lkey] = _like(out_lab.array, lab)
        rec.update({"applied": True, "class": ins["tumours"][0]["class"], "count": len(ins["tumours"]),
                    "delivered_mm3": ins["delivered_mm3"], "insertion": ins})
        rec.pop("reason", None)
        return self._finish(d, rec)

    def _finish(self, d: dict, rec: dict) -> dict:
        self.last_record = rec
        if self.record_key:
            d[self.record_key] = json.dumps(rec, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
        return d
