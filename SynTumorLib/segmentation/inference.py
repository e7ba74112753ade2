"""Inference: a whole CT → a 0/1/2 label map exactly on the CT's grid and geometry.

Steps: resample the CT to the model's spacing (keeping its direction and field of view), window
the HU, sliding-window inference (MONAI, Gaussian blending, configurable overlap), argmax, back onto
the input grid with nearest-neighbour interpolation; optionally keep the largest pancreas component
and restrict tumours to a given pancreas mask dilated by a few mm.

A model folder imported from DiffTumor's released segmenters is fed its own recipe instead
(RAS (R, A, S) arrays at 1 mm, overlap 0.75, logits resampled back linearly):
:mod:`~SynTumorLib.segmentation.difftumor_inference`.

:func:`predict_with_probability` returns the tumour probability map too — the softmax of the tumour
channel, resampled back onto the input grid with linear interpolation (float32 in [0, 1]) and set
to 0 wherever the post-processing above removed tumour (outside the kept pancreas component or the
dilated pancreas mask). Detection metrics (:mod:`SynTumorLib.metrics.detection`) read it.

Example:
    >>> from SynTumorLib.segmentation import load_model, predict_volume   # doctest: +SKIP
    >>> seg = predict_volume("models/unet", read_volume("ct.nii.gz"), overlap=0.5)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..data.io import list_volume_files, read_label_map, read_volume, write_volume
from ..data.volume import Volume
from ..runtime.devices import resolve_device
from ..runtime.precision import amp_mode, autocast
from ..utils.errors import InputError
from ..utils.limits import check_length_mm
from ..utils.paths import case_id_from_path, ensure_outside
from ..utils.progress import ProgressCallback

log = logging.getLogger(__name__)


def sliding_window_logits(net, image01: np.ndarray, roi_size: Sequence[int], overlap: float = 0.5,
                          device=None, sw_batch_size: int = 1, amp: str = "none",
                          progress: ProgressCallback | None = None):
    """Gaussian-blended sliding-window logits (1, C, D, H, W) on the CPU for a (D, H, W) [0, 1] array."""
    import torch
    from monai.inferers import sliding_window_inference

    if not 0.0 <= float(overlap) < 1.0:
        raise InputError(f"overlap must be in [0, 1), got {overlap}")
    device = device or torch.device("cpu")
    x = torch.as_tensor(np.ascontiguousarray(image01, dtype=np.float32))[None, None]
    calls = {"n": 0}

    def predictor(patch):
        from .networks import main_output

        out = main_output(net(patch))
        calls["n"] += 1
        if progress is not None:
            progress(min(0.99, calls["n"] / max(calls.get("total", 1), 1)), "sliding window")
        return out.float()

    if progress is not None:
        from monai.data.utils import dense_patch_slices

        roi = [min(r, s) for r, s in zip(roi_size, image01.shape, strict=True)]
        scan = [max(int(r * (1 - overlap)), 1) for r in roi]
        calls["total"] = max(1, len(dense_patch_slices(tuple(max(s, r) for s, r in zip(image01.shape, roi, strict=True)), roi, scan))
                             // sw_batch_size)
    net.eval()
    with torch.inference_mode(), autocast(amp_mode(amp, device), device):
        return sliding_window_inference(x, list(roi_size), sw_batch_size, predictor, overlap=float(overlap),
                                        mode="gaussian", padding_mode="constant", cval=0.0, sw_device=device,
                                        device=torch.device("cpu"))


def _largest_component(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    lab, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = ndimage.sum_labels(mask, lab, index=np.arange(1, n + 1))
    return lab == (1 + int(np.argmax(sizes)))


def _dilate_mm(mask: np.ndarray, spacing_kji: Sequence[float], mm: float) -> np.ndarray:
    from scipy import ndimage

    if mm <= 0:
        return mask
    dist = ndimage.distance_transform_edt(~mask, sampling=spacing_kji)
    return dist <= mm


def _pancreas_region(pancreas: Volume, image: Volume, margin_mm: float, name: str = "the pancreas mask") -> np.ndarray:
    """Where tumours may stay: the pancreas mask on the image grid, dilated by ``margin_mm``. A mask
    that does not overlap the image would silently delete every tumour: refused."""
    from ..data.resample import resample_like

    if not isinstance(pancreas, Volume):
        raise InputError(f"pancreas must be a Volume, got {type(pancreas).__name__}")
    if not np.asarray(pancreas.array).any():
        raise InputError(f"{name}: the pancreas mask is empty: it would remove every tumour")
    p = pancreas if pancreas.same_grid(image, atol=1e-6) else resample_like(
        pancreas.with_array((pancreas.array > 0).astype(np.uint8)), image, is_label=True)
    inside = np.asarray(p.array) > 0
    if not inside.any():
        raise InputError(f"{name}: the pancreas mask (grid {pancreas.shape} at {pancreas.spacing} mm) does not overlap the "
                         f"image grid {image.shape}: it would remove every tumour; give a mask of this CT")
    return _dilate_mm(inside, image.array_spacing, margin_mm)


class Prediction(NamedTuple):
    """What :func:`predict_with_probability` returns: the label map and the tumour probability map,
    both exactly on the input's grid."""

    labels: Volume  #: uint8, 0 background / 1 pancreas / 2 tumour
    tumour_probability: Volume  #: float32 in [0, 1], 0 wherever post-processing removed tumour


def predict_volume(model, image: Volume, pancreas: Volume | None = None, device: str = "auto",
                   overlap: float | None = None, progress: ProgressCallback | None = None, *,
                   largest_pancreas_component: bool = False, pancreas_margin_mm: float = 5.0,
                   sw_batch_size: int = 1, pancreas_name: str = "the pancreas mask") -> Volume:
    """Segment ``image`` (HU) into 0 background / 1 pancreas / 2 tumour on the image's own grid.

    Args:
        model: a model folder path or a :class:`~.model_folder.LoadedModel`.
        image: CT in HU (not modified).
        pancreas: optional pancreas mask (any grid; values > 0 = pancreas); tumour voxels farther than
            ``pancreas_margin_mm`` from it are set to background.
        device: auto | cpu | cuda | cuda:N (:func:`~SynTumorLib.runtime.devices.resolve_device`: cuda without a GPU is an error).
        overlap: sliding-window overlap in [0, 1); None: the model's own (0.5 for trained models, 0.75 for
            DiffTumor's released ones, their recipe); 0.25 is about 2.5× faster than 0.5.
        progress: ``callback(fraction, message)``.
        largest_pancreas_component: keep only the largest connected pancreas+tumour component.
        sw_batch_size: sliding windows per network call.
        pancreas_name: how errors about ``pancreas`` name it (its file, in the CLI).

    Returns:
        uint8 Volume with exactly ``image``'s shape and IJK→RAS matrix. For the tumour probability
        map too, call :func:`predict_with_probability` (same arguments).
    """
    return _predict(model, image, pancreas, device, overlap, progress, largest_pancreas_component,
                    pancreas_margin_mm, sw_batch_size, pancreas_name, want_probability=False)[0]


def predict_with_probability(model, image: Volume, pancreas: Volume | None = None, device: str = "auto",
                             overlap: float | None = None, progress: ProgressCallback | None = None, *,
                             largest_pancreas_component: bool = False, pancreas_margin_mm: float = 5.0,
                             sw_batch_size: int = 1, pancreas_name: str = "the pancreas mask") -> Prediction:
    """:func:`predict_volume` plus the tumour probability map (module doc): a :class:`Prediction`."""
    labels, prob = _predict(model, image, pancreas, device, overlap, progress, largest_pancreas_component,
                            pancreas_margin_mm, sw_batch_size, pancreas_name, want_probability=True)
    return Prediction(labels, prob)


def _predict(model, image: Volume, pancreas, device, overlap, progress, largest_pancreas_component: bool,
             pancreas_margin_mm: float, sw_batch_size: int, pancreas_name: str, *,
             want_probability: bool) -> tuple[Volume, Volume | None]:
    from .model_folder import LoadedModel, load_model

    if not isinstance(image, Volume):
        raise InputError(f"image must be a Volume, got {type(image).__name__}")
    if not np.all(np.isfinite(image.array)):
        raise InputError("image contains NaN or infinite values")
    margin = check_length_mm(pancreas_margin_mm, "pancreas_margin_mm")  # a negative margin would erode the mask
    allowed = None if pancreas is None else _pancreas_region(pancreas, image, margin, pancreas_name)  # before the network
    dev = resolve_device(device)
    lm = model if isinstance(model, LoadedModel) else load_model(model, device=dev)
    if lm.device != dev:
        lm = lm.to(dev)
    cb = progress or (lambda f, m="": None)
    if lm.preprocessing is not None:  # an imported DiffTumor network: its own orientation, spacing and window
        from .difftumor_inference import predict_released

        arr, prob = predict_released(lm, image, sliding_window_logits, overlap=overlap, device=dev, sw_batch_size=sw_batch_size,
                                     want_probability=want_probability, progress=lambda f, m: cb(0.92 * f, m))
    else:
        arr, prob = _predict_trained(lm, image, 0.5 if overlap is None else overlap, dev, sw_batch_size,
                                     want_probability, cb)
    if largest_pancreas_component and arr.any():
        keep = _largest_component(arr > 0)
        arr = np.where(keep, arr, 0).astype(np.uint8)
        if prob is not None:
            prob[~keep] = 0.0
    if allowed is not None:
        arr[(arr == 2) & ~allowed] = 0
        if prob is not None:
            prob[~allowed] = 0.0
    cb(1.0, "done")
    return image.with_array(arr), (None if prob is None else image.with_array(prob))


def _predict_trained(lm, image: Volume, overlap: float, dev, sw_batch_size: int, want_probability: bool,
                     cb) -> tuple[np.ndarray, np.ndarray | None]:
    """A SynTumor-trained network: resample to its spacing (native direction), window, infer, back (nearest)."""
    import torch

    from ..data.resample import resample_like, resample_to_spacing

    cfg = lm.config
    cb(0.0, "resampling")
    work = image
    if not np.allclose(image.spacing, cfg.spacing, rtol=0, atol=1e-4):
        work = resample_to_spacing(image.with_array(image.array.astype(np.float32)), cfg.spacing, is_label=False)
    lo, hi = cfg.hu_window
    x01 = np.clip((work.array.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0)
    # volumes smaller than the crop are padded by MONAI and cropped back
    logits = sliding_window_logits(lm.net, x01, cfg.crop_size, overlap=overlap, device=dev, sw_batch_size=sw_batch_size,
                                   progress=lambda f, m: cb(0.05 + 0.85 * f, m))
    labels = torch.argmax(logits[0], dim=0).to(torch.uint8).numpy()
    prob = _tumour_probability(logits, work, image) if want_probability else None
    del logits
    cb(0.92, "resampling back to the input grid")
    out = work.with_array(labels)
    if not out.same_grid(image, atol=1e-6):
        out = resample_like(out, image, is_label=True)
    return out.array.astype(np.uint8), prob


def _tumour_probability(logits, work: Volume, image: Volume) -> np.ndarray:
    """Softmax of the tumour channel (label 2) on ``image``'s grid (linear interpolation), float32."""
    import torch

    from ..data.resample import resample_like

    prob = torch.softmax(logits[0].float(), dim=0)[2].numpy().astype(np.float32)
    vol = work.with_array(prob)
    if not vol.same_grid(image, atol=1e-6):
        vol = resample_like(vol, image, is_label=False, default_value=0.0)
    return np.clip(np.asarray(vol.array, dtype=np.float32), 0.0, 1.0)


def predict_files(model, image: str | Path, out: str | Path, pancreas: str | Path | None = None,
                  device: str = "auto", overlap: float | None = None, progress: ProgressCallback | None = None,
                  probability_out: str | Path | None = None, *, largest_pancreas_component: bool = False,
                  pancreas_margin_mm: float = 5.0, sw_batch_size: int = 1) -> list[Path]:
    """Predict one CT file (→ ``out`` file) or every CT in a folder (→ ``out/<name>.nii.gz``; a
    pancreas folder is matched by name). Outputs are written atomically; returns their paths.

    ``probability_out``: also write the tumour probability map (float32, on the input grid) — a
    file for one CT, a folder (``<name>.nii.gz``) for a folder of CTs. The other keywords are
    :func:`predict_volume`'s."""
    from .model_folder import LoadedModel, load_model

    image, out = Path(image), Path(out)
    prob_out = Path(probability_out) if probability_out is not None else None
    for dst in (out, prob_out):  # neither output may overwrite (or sit inside) an input
        if dst is not None:
            ensure_outside(dst, image, pancreas, None if isinstance(model, LoadedModel) else model)
    lm = model if isinstance(model, LoadedModel) else load_model(model, device=resolve_device(device))
    inputs = list_volume_files(image) if image.is_dir() else []
    if inputs:  # a folder of CT files (a folder without any is read as one DICOM series)
        if out.exists() and not out.is_dir():
            raise InputError(f"{out}: must be a folder when --image is a folder")
        if prob_out is not None and prob_out.exists() and not prob_out.is_dir():
            raise InputError(f"{prob_out}: the probability output must be a folder when --image is a folder")
        jobs = []
        for p in inputs:
            pan = None
            if pancreas is not None:
                pan = next((q for q in list_volume_files(pancreas) if case_id_from_path(q) == case_id_from_path(p)), None)
                if pan is None:
                    raise InputError(f"{pancreas}: no pancreas mask named like {p.name}")
            jobs.append((p, pan, out / f"{case_id_from_path(p)}.nii.gz",
                         None if prob_out is None else prob_out / f"{case_id_from_path(p)}.nii.gz"))
    else:
        jobs = [(image, Path(pancreas) if pancreas else None, out, prob_out)]
    written = []
    for n, (src, pan, dst, prob_dst) in enumerate(jobs):
        def sub(f, m="", n=n, src=src):
            if progress is not None:
                progress((n + f) / len(jobs), f"{src.name}: {m}")

        seg, prob = _predict(lm, read_volume(src), read_label_map(pan) if pan else None, device, overlap, sub,
                             largest_pancreas_component, pancreas_margin_mm, sw_batch_size, str(pan),
                             want_probability=prob_dst is not None)
        if prob is not None:
            written.append(write_volume(prob, prob_dst))
        written.append(write_volume(seg, dst))
    return written
