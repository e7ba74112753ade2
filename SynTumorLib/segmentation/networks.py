"""Segmentation networks built from a JSON-able spec ``{"name": ..., "args": {...}}``.

Three architectures, all 1 input channel (windowed CT) and 3 output channels (background,
pancreas, tumour):

* ``unet`` — MONAI ``UNet`` as in the reference code: channels (16, 32, 64, 128, 256), strides
  (2, 2, 2, 2), 2 residual units.
* ``dynunet`` — MONAI ``DynUNet`` (nnU-Net's architecture); kernels and strides are planned from the
  training spacing and patch size by :func:`planning.plan_dynunet` unless given; ``filters``
  default to nnU-Net's 32, 64, 128, 256, 320, 320; deep supervision optional.
* ``swinunetr`` — MONAI ``SwinUNETR`` (``feature_size`` 48 by default; MONAI ≥ 1.5 takes no
  ``img_size``; needs ``einops``). Patch sizes must be divisible by 32.

:func:`resolve_network_spec` fills in defaults and planned values, so the resolved spec saved in a
model folder rebuilds exactly the same network without re-planning.

Example:
    >>> import torch
    >>> spec = resolve_network_spec({"name": "unet", "args": {"channels": [4, 8, 16]}}, (16, 16, 16), (1.0, 1.0, 1.0))
    >>> spec["args"]["strides"]
    [2, 2]
    >>> build_network(spec)(torch.zeros(1, 1, 16, 16, 16)).shape
    torch.Size([1, 3, 16, 16, 16])
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ..utils.errors import InputError
from .planning import plan_dynunet

IN_CHANNELS = 1
OUT_CHANNELS = 3  # background, pancreas, tumour
NETWORKS = ("unet", "dynunet", "swinunetr")

_UNET_ARGS = {"channels", "strides", "num_res_units", "norm", "dropout", "act"}
_DYN_ARGS = {"kernel_size", "strides", "upsample_kernel_size", "filters", "deep_supervision", "deep_supr_num",
             "res_block", "norm_name", "dropout", "max_levels"}
_SWIN_ARGS = {"feature_size", "depths", "num_heads", "window_size", "drop_rate", "attn_drop_rate",
              "dropout_path_rate", "use_checkpoint", "use_v2", "norm_name", "normalize"}


def _check_keys(name: str, args: dict, allowed: set[str]) -> None:
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise InputError(f"model '{name}': unknown argument(s) {unknown}; allowed: {sorted(allowed)}")


def _pos_ints(name: str, key: str, value: Any) -> list[int]:
    try:
        out = [int(v) for v in value]
    except TypeError:
        raise InputError(f"model '{name}': '{key}' must be a list of integers, got {value!r}") from None
    if not out or any(v < 1 for v in out):
        raise InputError(f"model '{name}': '{key}' must be positive integers, got {value!r}")
    return out


def resolve_network_spec(spec: dict, patch_size: Sequence[int], spacing_kji: Sequence[float]) -> dict:
    """Validate ``spec`` and return a complete copy (defaults and planned kernels/strides filled in).

    Args:
        spec: ``{"name": "unet"|"dynunet"|"swinunetr", "args": {...}}``.
        patch_size: training crop size (array order k, j, i).
        spacing_kji: voxel size of the training data along k, j, i (used by ``dynunet`` planning).
    """
    if not isinstance(spec, dict) or "name" not in spec:
        raise InputError(f"model must be an object like {{\"name\": \"unet\", \"args\": {{}}}}, got {spec!r}")
    extra = sorted(set(spec) - {"name", "args"})
    if extra:
        raise InputError(f"model: unknown key(s) {extra}; a model spec has only 'name' and 'args'")
    name = str(spec["name"]).lower()
    args = copy.deepcopy(spec.get("args") or {})
    if not isinstance(args, dict):
        raise InputError(f"model '{name}': 'args' must be an object, got {args!r}")
    patch = [int(p) for p in patch_size]
    if name == "unet":
        _check_keys(name, args, _UNET_ARGS)
        ch = _pos_ints(name, "channels", args.get("channels", [16, 32, 64, 128, 256]))
        if len(ch) < 2:
            raise InputError(f"model 'unet': 'channels' needs at least 2 levels, got {ch}")
        strides = _pos_ints(name, "strides", args.get("strides", [2] * (len(ch) - 1)))
        if len(strides) != len(ch) - 1:
            raise InputError(f"model 'unet': 'strides' needs len(channels) - 1 = {len(ch) - 1} entries, got {strides}")
        factor = 1
        for s in strides:
            factor *= s
        bad = [p for p in patch if p % factor]
        if bad:
            raise InputError(f"model 'unet': crop size {patch} must be divisible by {factor} (the product of the strides)")
        args.update(channels=ch, strides=strides, num_res_units=int(args.get("num_res_units", 2)))
        args.setdefault("norm", "instance")
        args.setdefault("dropout", 0.0)
    elif name == "dynunet":
        _check_keys(name, args, _DYN_ARGS)
        if "kernel_size" not in args or "strides" not in args:
            plan = plan_dynunet(spacing_kji, patch, int(args.pop("max_levels", 5)))
            args.setdefault("kernel_size", plan["kernel_size"])
            args.setdefault("strides", plan["strides"])
        args.pop("max_levels", None)
        n = len(args["strides"])
        if len(args["kernel_size"]) != n:
            raise InputError(f"model 'dynunet': kernel_size has {len(args['kernel_size'])} levels, strides {n}")
        args.setdefault("upsample_kernel_size", args["strides"][1:])
        default_filters = [min(32 * 2**i, 320) for i in range(n)]
        args["filters"] = _pos_ints(name, "filters", args.get("filters", default_filters))
        if len(args["filters"]) != n:
            raise InputError(f"model 'dynunet': 'filters' needs {n} entries (one per level), got {args['filters']}")
        for a in range(3):
            factor = 1
            for s in args["strides"]:
                factor *= s[a] if isinstance(s, (list, tuple)) else s
            if patch[a] % factor:
                raise InputError(f"model 'dynunet': crop size {patch} must be divisible by {factor} along axis {a}")
        args.setdefault("deep_supervision", False)
        args.setdefault("deep_supr_num", 1)
        args.setdefault("res_block", False)
    elif name == "swinunetr":
        _check_keys(name, args, _SWIN_ARGS)
        args["feature_size"] = int(args.get("feature_size", 48))
        if args["feature_size"] % 12:
            raise InputError(f"model 'swinunetr': feature_size must be a multiple of 12, got {args['feature_size']}")
        bad = [p for p in patch if p % 32]
        if bad:
            raise InputError(f"model 'swinunetr': crop size {patch} must be divisible by 32")
        args.setdefault("norm_name", "instance")
        if min(patch) < 64 and "instance" in str(args["norm_name"]).lower():
            # a 32-voxel axis leaves a 1-voxel bottleneck, which instance norm cannot normalise
            raise InputError(f"model 'swinunetr': crop size {patch} needs ≥ 64 voxels per axis with instance norm "
                             "(use 96, or \"norm_name\": \"batch\" with batch_size ≥ 2 for tiny tests)")
    else:
        raise InputError(f"unknown model '{spec['name']}'; choose one of {', '.join(NETWORKS)}")
    return {"name": name, "args": args}


def build_network(spec: dict):
    """Build the torch module of a *resolved* spec (see :func:`resolve_network_spec`)."""
    name, args = spec["name"], dict(spec["args"])
    if name == "unet":
        from monai.networks.nets import UNet

        return UNet(spatial_dims=3, in_channels=IN_CHANNELS, out_channels=OUT_CHANNELS, **args)
    if name == "dynunet":
        from monai.networks.nets import DynUNet

        return DynUNet(spatial_dims=3, in_channels=IN_CHANNELS, out_channels=OUT_CHANNELS, **args)
    if name == "swinunetr":
        try:
            import einops  # noqa: F401
        except ImportError:
            raise InputError("model 'swinunetr' needs the 'einops' package (pip install einops)") from None
        from monai.networks.nets import SwinUNETR

        return SwinUNETR(in_channels=IN_CHANNELS, out_channels=OUT_CHANNELS, spatial_dims=3, **args)
    raise InputError(f"unknown model '{name}'; choose one of {', '.join(NETWORKS)}")


def main_output(out):
    """The full-resolution logits: DynUNet with deep supervision returns (B, 1+n, C, ...) in training."""
    if out.dim() == 6:
        return out[:, 0]
    return out
