"""DiffTumor's released segmenters (U-Net, nnU-Net/DynUNet, Swin-UNETR) in MONAI 1.6.1.

DiffTumor ships ``{unet,nnunet,swinunetr}_synt_{liver,pancreas,kidney}_tumors.pt`` trained on real
and synthetic tumours (``../shared/difftumor/SEGMENTERS.md``). Each file is ``{epoch, best_acc,
state_dict}`` (``best_acc`` a ``numpy.float64``; maybe ``optimizer``/``scheduler`` too). This module:

* reads one safely (:func:`load_difftumor_segmenter`): ``weights_only=True`` with the numpy scalar
  allowlisted under its old spelling and decoded by inert stand-ins, nothing else;
* maps its keys into MONAI 1.6.1 (:func:`map_released_keys`): U-Net none, DynUNet none (but
  ``norm_name="instance"``, non-affine), Swin-UNETR 32 renames (``mlp.fc1/fc2`` → ``linear1/2``)
  and 2 drops (the unused ``swinViT.norm``);
* builds the matching network (:func:`build_released_network`). For Swin-UNETR that needs
  :class:`LegacyPatchMerging`: MONAI ≥ 1.5 changed ``"merging"``, so the weights would load
  strictly and silently compute something else;
* states the preprocessing the networks were trained with, as data (:data:`PREPROCESSING`).

Example:
    >>> sorted(RELEASED_ARCHITECTURES)
    ['dynunet', 'swinunetr', 'unet']
    >>> swin_key_map()["swinViT.layers1.0.blocks.0.mlp.fc1.weight"]
    'swinViT.layers1.0.blocks.0.mlp.linear1.weight'
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path
from typing import Any

import torch
from monai.networks.nets.swin_unetr import PatchMergingV2

from ..texture.difftumor.safe_unpickle import restricted_load
from ..utils.errors import InputError

#: MONAI 1.6.1 constructor arguments equal to DiffTumor's (SEGMENTERS §2, §6)
RELEASED_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "unet": {"spatial_dims": 3, "in_channels": 1, "out_channels": 3, "channels": (16, 32, 64, 128, 256),
             "strides": (2, 2, 2, 2), "num_res_units": 2},
    "dynunet": {"spatial_dims": 3, "in_channels": 1, "out_channels": 3, "kernel_size": [[3, 3, 3]] * 5,
                "strides": [[1, 1, 1]] + [[2, 2, 2]] * 4, "upsample_kernel_size": [[2, 2, 2]] * 4,
                "norm_name": "instance", "deep_supervision": False, "deep_supr_num": 3},
    "swinunetr": {"in_channels": 1, "out_channels": 3, "feature_size": 48, "spatial_dims": 3},
}
#: tensors in a released file (SEGMENTERS §9 S1): 63 / 46 / 161
RELEASED_TENSOR_COUNTS = {"unet": 63, "dynunet": 46, "swinunetr": 161}
#: the first key of each layout tells the backbone (SEGMENTERS §8)
SIGNATURE_KEYS = {"unet": "model.0.conv.unit0.conv.weight", "dynunet": "input_block.conv1.conv.weight",
                  "swinunetr": "swinViT.patch_embed.proj.weight"}
SWIN_DROPPED = ("swinViT.norm.weight", "swinViT.norm.bias")
#: output channels of every released network
LABELS = ("background", "organ", "tumour")

#: DiffTumor's inference preprocessing (SEGMENTERS §4–§5); the arrays are RAS with axes (R, A, S)
PREPROCESSING: dict[str, Any] = {
    "orientation": "RAS", "array_axes": ["R", "A", "S"], "spacing_mm": [1.0, 1.0, 1.0],
    "image_interpolation": "bilinear", "window_hu": [-175.0, 250.0], "window_to": [0.0, 1.0], "clip": True,
    "pad_to_at_least": [96, 96, 96], "pad_mode": "minimum", "roi_size": [96, 96, 96], "sw_batch_size": 1,
    "overlap": 0.75, "blend_mode": "gaussian", "sigma_scale": 0.125, "padding_mode": "constant", "cval": 0.0,
    "amp": False, "output_channels": list(LABELS),
    "inverse": "logits resampled bilinearly to the input grid, then argmax",
}

# the reference's (d, h, w) sub-grid offsets, in its concatenation order: (0,1,0) and (0,0,1) twice,
# (1,1,0) and (0,1,1) never (SEGMENTERS §6)
LEGACY_MERGE_ORDER = ((0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, 0), (0, 0, 1), (1, 1, 1))


class LegacyPatchMerging(PatchMergingV2):
    """Swin patch merging with the released networks' concatenation order (see ``LEGACY_MERGE_ORDER``).

    Same parameters as MONAI's ``PatchMergingV2`` (``reduction``, ``norm``); only the order of the eight
    2×2×2 sub-grids differs. Odd sizes are padded at the end, as MONAI does.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            return super().forward(x)
        _, d, h, w, _ = x.shape
        if d % 2 or h % 2 or w % 2:
            x = torch.nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2, 0, d % 2))
        x = torch.cat([x[:, i::2, j::2, k::2, :] for i, j, k in LEGACY_MERGE_ORDER], -1)
        return self.reduction(self.norm(x))


def build_released_network(arch: str) -> torch.nn.Module:
    """The MONAI 1.6.1 network that DiffTumor's ``arch`` weights load into strictly and compute right."""
    from monai.networks.nets import DynUNet, SwinUNETR, UNet

    if arch not in RELEASED_ARCHITECTURES:
        raise InputError(f"unknown DiffTumor segmenter '{arch}'; choose one of {', '.join(RELEASED_ARCHITECTURES)}")
    args = RELEASED_ARCHITECTURES[arch]
    if arch == "unet":
        return UNet(**args)
    if arch == "dynunet":
        return DynUNet(**args)
    return SwinUNETR(**args, downsample=LegacyPatchMerging)


def swin_key_map() -> dict[str, str]:
    """The 32 renames from DiffTumor's Swin-UNETR to MONAI 1.6.1 (``mlp.fc1/fc2`` → ``mlp.linear1/2``)."""
    out = {}
    for layer in range(1, 5):
        for block in (0, 1):
            for fc, lin in (("fc1", "linear1"), ("fc2", "linear2")):
                for p in ("weight", "bias"):
                    base = f"swinViT.layers{layer}.0.blocks.{block}.mlp."
                    out[f"{base}{fc}.{p}"] = f"{base}{lin}.{p}"
    return out


def detect_architecture(keys: list[str]) -> str | None:
    """The backbone of a state dict from its signature key (None when none matches)."""
    for arch, key in SIGNATURE_KEYS.items():
        if key in keys:
            return arch
    return None


def map_released_keys(sd: dict[str, torch.Tensor], arch: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Released names → MONAI 1.6.1 names; returns the mapped dict and what was renamed/dropped."""
    if arch != "swinunetr":
        return dict(sd), {"renamed": 0, "dropped": []}
    renames = swin_key_map()
    out = {renames.get(k, k): v for k, v in sd.items() if k not in SWIN_DROPPED}
    return out, {"renamed": sum(k in renames for k in sd), "dropped": [k for k in SWIN_DROPPED if k in sd]}


class _NumpyDtype:
    """Inert stand-in for ``numpy.dtype(code, align, copy)``: keeps the code and the byte order."""

    def __init__(self, code: Any = "f8", align: Any = False, copy: Any = True):
        self.code, self.byteorder = str(code), "<"

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.byteorder = state[1]


_SCALAR_FORMATS = {"f8": "d", "f4": "f", "i8": "q", "i4": "i", "u8": "Q", "u4": "I", "b1": "?"}


def _numpy_scalar(dtype: Any, data: Any = b"") -> float | int | bool:
    """Inert stand-in for ``numpy.core.multiarray.scalar``: numeric scalars only, decoded with ``struct``."""
    fmt = _SCALAR_FORMATS.get(getattr(dtype, "code", None))
    if fmt is None or not isinstance(data, (bytes, bytearray)) or len(data) != struct.calcsize(fmt):
        raise ValueError(f"unsupported numpy scalar ({getattr(dtype, 'code', dtype)!r})")
    order = ">" if getattr(dtype, "byteorder", "<") == ">" else "<"
    return struct.unpack(order + fmt, bytes(data))[0]


_SEG_STANDINS = [(_numpy_scalar, "numpy.core.multiarray.scalar"), (_numpy_scalar, "numpy._core.multiarray.scalar"),
                 (_NumpyDtype, "numpy.dtype")]
#: globals a released segmenter file may name (optimizer/scheduler states add none of their own)
SEGMENTER_GLOBALS = frozenset({"torch._utils._rebuild_tensor_v2", "torch.FloatStorage", "torch.LongStorage",
                               "collections.OrderedDict", "_codecs.encode", "numpy.core.multiarray.scalar",
                               "numpy._core.multiarray.scalar", "numpy.dtype"})


def _strip_prefix(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    for prefix in ("module.", "backbone."):
        if sd and all(k.startswith(prefix) for k in sd):
            return {k[len(prefix):]: v for k, v in sd.items()}, prefix
    return sd, ""


def load_difftumor_segmenter(path: str | Path, arch: str | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a released segmenter checkpoint and return MONAI 1.6.1 weights + facts.

    Args:
        path: ``{unet,nnunet,swinunetr}_synt_<organ>_tumors.pt`` (or a renamed ``model.pt``).
        arch: ``"unet"``, ``"dynunet"`` or ``"swinunetr"``; detected from the keys when None.

    Returns:
        ``(state_dict, info)``: the state dict loads strictly into :func:`build_released_network`
        (``arch``); info has the architecture, epoch, best_acc, the prefix removed, the renamed /
        dropped keys, the tensors found and :data:`PREPROCESSING`.
    """
    label = str(path)
    obj, found = restricted_load(path, SEGMENTER_GLOBALS, "segmenter checkpoint", _SEG_STANDINS)
    if isinstance(obj, dict) and "state_dict" in obj:
        meta, sd = obj, obj["state_dict"]
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        meta, sd = {}, obj  # a bare state dict
    else:
        keys = sorted(map(str, obj))[:8] if isinstance(obj, dict) else type(obj).__name__
        raise InputError(f"{label}: not a DiffTumor segmenter checkpoint (no 'state_dict'; found {keys})")
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise InputError(f"{label}: 'state_dict' is not a dict of tensors")
    sd, prefix = _strip_prefix(dict(sd))
    detected = detect_architecture(list(sd))
    arch = arch or detected
    if arch is None:
        raise InputError(f"{label}: cannot tell the backbone (none of {', '.join(SIGNATURE_KEYS.values())} present)")
    if arch not in RELEASED_ARCHITECTURES:
        raise InputError(f"unknown DiffTumor segmenter '{arch}'; choose one of {', '.join(RELEASED_ARCHITECTURES)}")
    if detected is not None and detected != arch:
        raise InputError(f"{label}: the weights are a {detected} network, not {arch}")
    mapped, changes = map_released_keys(sd, arch)
    check_against_network(mapped, arch, label)
    best = meta.get("best_acc")
    info = {"kind": "difftumor-segmenter", "architecture": arch, "epoch": meta.get("epoch"),
            "best_acc": float(best) if isinstance(best, (int, float, torch.Tensor)) else best,
            "prefix_removed": prefix, "tensors_in_file": len(sd), "globals": sorted(found), "labels": list(LABELS),
            "monai_args": dict(RELEASED_ARCHITECTURES[arch]),
            "extra_entries": sorted(str(k) for k in meta if k not in ("epoch", "best_acc", "state_dict")),
            "preprocessing": dict(PREPROCESSING), **changes}
    if arch == "swinunetr":
        info["downsample"] = "legacy-merging"
    return mapped, info


@cache
def expected_tensors(arch: str) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """``{key: (shape, dtype)}`` of the MONAI 1.6.1 network for ``arch`` (built once per process)."""
    try:
        with torch.device("meta"):  # shapes only, no memory
            net = build_released_network(arch)
    except RuntimeError:  # SwinUNETR calls .item() while building, which meta tensors cannot do
        net = build_released_network(arch)
    return {k: (tuple(v.shape), v.dtype) for k, v in net.state_dict().items()}


def check_against_network(sd: dict[str, torch.Tensor], arch: str, label: str) -> None:
    """Raise naming every missing, unexpected or misshapen key against the MONAI 1.6.1 network."""
    want = {k: shape for k, (shape, _dtype) in expected_tensors(arch).items()}
    problems = []
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    bad = [f"'{k}' {tuple(v.shape)} ≠ {want[k]}" for k, v in sd.items() if k in want and tuple(v.shape) != want[k]]
    if missing:
        problems.append(f"{len(missing)} missing: {', '.join(missing[:4])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {', '.join(unexpected[:4])}")
    if bad:
        problems.append(f"{len(bad)} misshapen: {'; '.join(bad[:4])}")
    if problems:
        raise InputError(f"{label}: does not match DiffTumor's released {arch}: " + " | ".join(problems))
