"""Safe loaders for DiffTumor's released files: plain tensors + a metadata dict, nothing executed.

* ``AutoencoderModel.ckpt`` (a Lightning checkpoint) → :func:`load_difftumor_autoencoder`. Its
  pickle may name exactly the 15 globals of SPEC §2; omegaconf's classes and ``typing.Any`` become
  inert stand-ins, ``defaultdict`` a plain dict; anything else is refused by name.
* ``<organ>_{early,noearly}.pt`` (``{step, model, ema, scaler}``) → :func:`load_difftumor_denoiser`,
  with plain ``weights_only=True`` (plus the same static scan, 4 globals).
* Every tensor group is checked against the committed manifests; a missing, misshapen or
  unexpected key is named. :func:`compare_vqgan_copies` gives the max |Δ| between the ``.ckpt``
  VQ-GAN and the copy each ``.pt`` embeds (SPEC R2).

Example:
    >>> import io, torch
    >>> from SynTumorLib.texture.difftumor.unet3d import Unet3D
    >>> sd = Unet3D(dim=8, dim_mults=(1, 2), attn_heads=2, attn_dim_head=4).state_dict()
    >>> compare_vqgan_copies(sd, sd)["max_abs_diff"]
    0.0
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from ...utils.errors import InputError
from .manifests import check_tensors, load_manifests, schedule_manifest
from .safe_unpickle import InertObject, InertValue, as_plain_dict, inert_class, restricted_load
from .schedule import EARLY_T, NOEARLY_T, schedule_buffers
from .unet3d import Unet3D
from .vqgan3d import RELEASED_CONFIG, VQGAN3D

_OMEGACONF = ("omegaconf.dictconfig.DictConfig", "omegaconf.listconfig.ListConfig",
              "omegaconf.base.ContainerMetadata", "omegaconf.base.Metadata", "omegaconf.nodes.AnyNode")
_TENSOR_GLOBALS = ("torch._utils._rebuild_tensor_v2", "torch.FloatStorage", "torch.LongStorage",
                   "collections.OrderedDict")
#: the globals HF's scan lists for AutoencoderModel.ckpt (SPEC §1), in Python 3 spelling
CKPT_GLOBALS = frozenset((*_TENSOR_GLOBALS, "collections.Counter", "collections.defaultdict", *_OMEGACONF,
                          "typing.Any", "builtins.int", "builtins.list", "builtins.dict"))
#: the globals of a DiffusionModel/*.pt (SPEC §1)
PT_GLOBALS = frozenset(_TENSOR_GLOBALS)
_RELEASED_CFG = {"model.n_hiddens": 16, "model.downsample": [4, 4, 4], "model.embedding_dim": 8,
                 "model.n_codes": 16384, "model.num_groups": 32, "model.norm_type": "group",
                 "model.padding_type": "replicate", "dataset.image_channels": 1}


def _ckpt_standins() -> list:
    return ([(inert_class(n), n) for n in _OMEGACONF] + [(InertValue("typing.Any"), "typing.Any"),
            (as_plain_dict, "collections.defaultdict"), int, list, dict])


def file_facts(path: str | Path) -> dict[str, Any]:
    """Name, size and SHA-256 of a source file (recorded by importers)."""
    p = Path(path)
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"file": p.name, "size": p.stat().st_size, "sha256": h.hexdigest()}


def plain_config(obj: Any, depth: int = 0) -> Any:
    """An inert omegaconf tree (DictConfig/ListConfig/AnyNode stand-ins) → plain dicts, lists, values."""
    if depth > 50:
        raise InputError("hyper_parameters: config nested too deeply")
    if isinstance(obj, InertObject):
        state = getattr(obj, "state", None)
        state = state if isinstance(state, dict) else {}
        if obj.pickled_name == "omegaconf.nodes.AnyNode":
            return plain_config(state.get("_val"), depth + 1)
        content = state.get("_content")
        if isinstance(content, (dict, list)):
            return plain_config(content, depth + 1)
        return content if content is None or isinstance(content, (str, int, float, bool)) else repr(content)
    if isinstance(obj, InertValue):
        return obj.pickled_name
    if isinstance(obj, dict):
        return {str(k): plain_config(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_config(v, depth + 1) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return repr(obj)


def _check_config(cfg: Any, label: str) -> None:
    if not isinstance(cfg, dict):
        return
    for dotted, want in _RELEASED_CFG.items():
        node: Any = cfg
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and node != want:
            raise InputError(f"{label}: its config has cfg.{dotted} = {node!r}; SynTumor reads DiffTumor's "
                             f"released autoencoder, which has {want!r}")


def _tensor_dict(obj: Any, label: str, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{label}: '{what}' is not a dict of tensors")
    return dict(obj)


def load_difftumor_autoencoder(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read DiffTumor's ``AutoencoderModel.ckpt`` without executing anything in it.

    Returns:
        ``(state_dict, info)``: the 71 encode/decode tensors (loadable into :class:`VQGAN3D` with
        ``strict=True``) and JSON-able facts (file, size, SHA-256, globals found, the plain config,
        epoch/step, Lightning version, number of ignored training-only tensors, codebook range).
    """
    label = str(path)
    obj, found = restricted_load(path, CKPT_GLOBALS, "autoencoder checkpoint", _ckpt_standins())
    if not isinstance(obj, dict) or "state_dict" not in obj:
        keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise InputError(f"{label}: not a Lightning checkpoint (no 'state_dict'; found {keys})")
    sd = _tensor_dict(obj["state_dict"], label, "state_dict")
    m = load_manifests()
    check_tensors(sd, m["autoencoder"], label, "autoencoder", allowed_extra=m["autoencoder_ignored"])
    hp = obj.get("hyper_parameters")
    # save_hyperparameters() of VQGAN(cfg) stores {"cfg": DictConfig}; accept the bare config too
    cfg = plain_config(hp["cfg"] if isinstance(hp, dict) and "cfg" in hp else hp) if hp is not None else None
    _check_config(cfg, label)
    out = {k: sd[k].detach().to(torch.float32).contiguous() for k in m["autoencoder"]}
    e = out["codebook.embeddings"]
    info = {**file_facts(path), "kind": "difftumor-autoencoder", "globals": sorted(found), "config": cfg,
            "architecture": dict(RELEASED_CONFIG), "epoch": obj.get("epoch"), "global_step": obj.get("global_step"),
            "lightning_version": obj.get("pytorch-lightning_version"),
            "ignored_tensors": len(sd) - len(out), "embedding_range": [float(e.min()), float(e.max())]}
    return out, info


def _split_pt(entries: dict[str, torch.Tensor], label: str, which: str) -> dict[str, dict[str, torch.Tensor]]:
    if any(k.startswith(("denoise_fn.clip_model.", "denoise_fn.cross_attn.")) for k in entries) or (
            "denoise_fn.init_conv.weight" in entries and entries["denoise_fn.init_conv.weight"].shape[1] == 26):
        raise InputError(f"{label}: this is a TextoMorph (text-conditioned, 26-channel) denoiser, not a DiffTumor one")
    groups: dict[str, dict[str, torch.Tensor]] = {"unet": {}, "vqgan": {}, "schedule": {}, "other": {}}
    for k, v in entries.items():
        if k.startswith("denoise_fn."):
            groups["unet"][k[len("denoise_fn."):]] = v
        elif k.startswith("vqgan."):
            groups["vqgan"][k[len("vqgan."):]] = v
        elif "." not in k:
            groups["schedule"][k] = v
        else:
            groups["other"][k] = v
    if groups["other"]:
        raise InputError(f"{label}: '{which}' has unexpected key(s) {sorted(groups['other'])[:5]}")
    return groups


def load_difftumor_denoiser(path: str | Path, expected_T: int | None = None,
                            which: str = "ema") -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read a DiffTumor ``DiffusionModel/<organ>_{early,noearly}.pt`` with ``weights_only=True``.

    Args:
        expected_T: 4 (early) or 200 (non-early) to refuse the other kind; None accepts any.
        which: ``"ema"`` (what DiffTumor samples with) or ``"model"``.

    Returns:
        ``({"unet": 300 tensors, "schedule": 12 buffers, "vqgan": 71 tensors}, info)``; info has the
        file facts, ``step``, ``T``, ``recipe``, the largest difference of the schedule from the
        cosine table and of the ``model`` denoiser from the ``ema`` one.
    """
    label = str(path)
    if which not in ("ema", "model"):
        raise ValueError(f"which must be 'ema' or 'model', got {which!r}")
    obj, found = restricted_load(path, PT_GLOBALS, "diffusion checkpoint")
    if not isinstance(obj, dict) or not {"model", "ema"} <= set(obj):
        keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise InputError(f"{label}: not a DiffTumor diffusion checkpoint (expected 'model' and 'ema', found {keys})")
    groups = _split_pt(_tensor_dict(obj[which], label, which), label, which)
    m = load_manifests()
    check_tensors(groups["unet"], m["unet"], label, "denoiser (denoise_fn.*)")
    check_tensors(groups["vqgan"], m["autoencoder"], label, "embedded autoencoder (vqgan.*)",
                  allowed_extra=m["autoencoder_ignored"])
    betas = groups["schedule"].get("betas")
    T = int(betas.shape[0]) if isinstance(betas, torch.Tensor) and betas.dim() == 1 else 0
    check_tensors(groups["schedule"], schedule_manifest(T), label, "schedule")
    if expected_T is not None and T != expected_T:
        kind = {EARLY_T: "early (T = 4)", NOEARLY_T: "non-early (T = 200)"}
        raise InputError(f"{label}: this is a {kind.get(T, f'T = {T}')} model; expected "
                         f"{kind.get(expected_T, f'T = {expected_T}')}")
    ref = schedule_buffers(T)
    sched_diff = max(float((groups["schedule"][k].double() - ref[k].double()).abs().max()) for k in ref)
    other = _split_pt(_tensor_dict(obj["model" if which == "ema" else "ema"], label, "other"), label, "other")["unet"]
    ema_diff = compare_vqgan_copies(groups["unet"], other)["max_abs_diff"] if set(other) == set(groups["unet"]) else None
    tensors = {"unet": {k: groups["unet"][k].detach().float().contiguous() for k in m["unet"]},
               "schedule": {k: groups["schedule"][k].detach().float().contiguous() for k in ref},
               "vqgan": {k: groups["vqgan"][k].detach().float().contiguous() for k in m["autoencoder"]}}
    info = {**file_facts(path), "kind": "difftumor-denoiser", "globals": sorted(found), "which": which,
            "step": obj.get("step") if isinstance(obj.get("step"), int) else None, "T": T,
            "recipe": {EARLY_T: "early", NOEARLY_T: "noearly"}.get(T), "schedule_max_abs_diff_vs_cosine": sched_diff,
            "model_vs_ema_max_abs_diff": ema_diff}
    return tensors, info


def compare_vqgan_copies(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Max |Δ| between two state dicts with the same keys (e.g. the ``.ckpt`` and a ``.pt`` VQ-GAN)."""
    if set(a) != set(b):
        raise InputError(f"the two state dicts have different keys: {sorted(set(a) ^ set(b))[:5]}")
    worst, key = 0.0, None
    for k in a:
        if a[k].shape != b[k].shape:
            raise InputError(f"'{k}' differs in shape: {tuple(a[k].shape)} vs {tuple(b[k].shape)}")
        d = float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0
        if d > worst:
            worst, key = d, k
    return {"max_abs_diff": worst, "worst_key": key, "identical": worst == 0.0}


def vqgan_from_state_dict(sd: dict[str, torch.Tensor], device: str | torch.device = "cpu") -> VQGAN3D:
    """A :class:`VQGAN3D` at the released config with ``sd`` loaded strictly, in eval mode."""
    with torch.device("meta"):
        model = VQGAN3D()
    model.load_state_dict(sd, strict=True, assign=True)
    return model.to(device).eval()


def unet_from_state_dict(sd: dict[str, torch.Tensor], device: str | torch.device = "cpu") -> Unet3D:
    """A released-config :class:`Unet3D` with ``sd`` loaded strictly, in eval mode."""
    with torch.device("meta"):
        model = Unet3D()
    model.load_state_dict(sd, strict=True, assign=True)
    return model.to(device).eval()
