"""DiffTumor's released texture files as one SynTumor model folder: import, verify, load.

:func:`import_difftumor_texture` reads ``AutoencoderModel.ckpt`` and one or both of
``<organ>_early.pt`` / ``<organ>_noearly.pt`` through the safe loaders (nothing pickled is ever
executed; every key and shape is checked against the manifests) and writes a model folder of kind
``"difftumor-texture"`` (:mod:`SynTumorLib.runtime.model_folder`)::

    model.safetensors   vqgan.*            the autoencoder (encodes; decodes non-early samples)
                        early.*, noearly.* the ``ema`` denoisers (Unet3D)
                        schedule.<recipe>.* the schedule buffers as stored in each ``.pt``
                        vqgan_early.*      only if the early ``.pt``'s own VQ-GAN copy differs
                                           (DiffTumor decodes early samples with that copy)
    model_card.json     organ, recipes (T, sampler, steps, clamp), the size-class → recipe
                        default, the crop contract, ``sources`` (file, size, SHA-256, role), the
                        VQ-GAN copy comparison and the licence notice

:func:`verify_difftumor_texture` re-checks a folder (hashes, the card, every tensor's name and
shape against the architecture the card names) and :func:`load_difftumor_texture` builds the
:class:`~.synthesizer.DiffTumorSynthesizer` from it.

Example:
    >>> import tempfile, torch
    >>> from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D
    >>> from SynTumorLib.texture.difftumor.unet3d import Unet3D
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> vq = dict(n_hiddens=4, n_codes=16, num_groups=2)
    >>> un = dict(dim=8, dim_mults=[1, 2], attn_heads=2, attn_dim_head=4)
    >>> d = write_difftumor_texture(tempfile.mkdtemp(), organ="pancreas", vqgan=VQGAN3D(**vq).state_dict(),
    ...     vqgan_args=vq, denoisers={"early": (Unet3D(**un).state_dict(), un, None)}, crop_size=16)
    >>> verify_difftumor_texture(d)["recipes"]
    ['early']
    >>> syn, card = load_difftumor_texture(d)
    >>> card["config"]["size_class_recipe"]["large"]  # only an early model: every class uses it
    'early'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ...runtime.devices import resolve_device
from ...runtime.model_folder import CARD, WEIGHTS, ModelFolder, load_into, load_model_folder
from ...utils.errors import InputError, ModelFolderError
from ...utils.hashing import sha256_file
from .licence import LICENCE_NOTICE
from .loaders import compare_vqgan_copies, load_difftumor_autoencoder, load_difftumor_denoiser
from .manifests import check_tensors, load_manifests
from .schedule import DDIM_STEPS, EARLY_T, NOEARLY_T, schedule_buffers
from .synthesizer import ORGANS, RECIPES, DiffTumorSynthesizer
from .unet3d import RELEASED_CONFIG as UNET_RELEASED
from .unet3d import Unet3D
from .vqgan3d import RELEASED_CONFIG as VQGAN_RELEASED
from .vqgan3d import VQGAN3D

KIND = "difftumor-texture"
#: the facts of each recipe (SPEC §4), written into the card
RECIPE_FACTS = {
    "early": {"sampler": "ddpm", "T": EARLY_T, "steps": EARLY_T, "clamp_x0": True,
              "decoder": "the early .pt's VQ-GAN copy"},
    "noearly": {"sampler": "ddim", "T": NOEARLY_T, "steps": DDIM_STEPS, "clamp_x0": False, "eta": 0.0,
                "final_alpha": "alphas_cumprod[0]", "decoder": "the autoencoder checkpoint"},
}
#: the study's choice (SynTumorAnalyzer): early for tiny and small tumours, non-early for the rest
DEFAULT_SIZE_CLASS_RECIPE = {"tiny": "early", "small": "early", "medium": "noearly", "large": "noearly"}
CROP = {"spacing_mm": 1.0, "orientation": "RAS", "hu_window": [-175.0, 250.0], "axes": "(R, A, S), frames = S"}


def _size_class_recipe(recipes: list[str]) -> dict[str, str]:
    # with one model only, every class uses it (DiffTumor's default choice needs both)
    if len(recipes) == 1:
        return dict.fromkeys(DEFAULT_SIZE_CLASS_RECIPE, recipes[0])
    return dict(DEFAULT_SIZE_CLASS_RECIPE)


def _architecture(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def write_difftumor_texture(out: str | os.PathLike, *, organ: str, vqgan: dict[str, torch.Tensor],
                            denoisers: dict[str, tuple[dict, dict | None, dict | None]],
                            vqgan_args: dict | None = None, vqgan_early: dict[str, torch.Tensor] | None = None,
                            sources: list[dict] | None = None, vqgan_copies: dict | None = None,
                            source_info: dict | None = None, crop_size: int = 96) -> Path:
    """Write a ``difftumor-texture`` folder from plain state dicts (the importer's last step; tests
    use it with tiny networks).

    Args:
        organ: ``pancreas``, ``liver`` or ``kidney`` (decides the paste rule of the reference mode).
        vqgan: the autoencoder state dict; ``vqgan_args`` its :class:`VQGAN3D` arguments (released).
        denoisers: ``{recipe: (unet state dict, Unet3D arguments or None = released, schedule
            buffers or None = the cosine table)}`` for ``early`` and/or ``noearly``.
        vqgan_early: the early ``.pt``'s VQ-GAN copy, only when it differs from ``vqgan``.
        sources, vqgan_copies, source_info: provenance facts for the card.
        crop_size: the crop edge in voxels at 1 mm (96 for the released models).
    """
    from ...runtime.model_folder import write_model_folder

    if organ not in ORGANS:
        raise InputError(f"unknown organ {organ!r}; DiffTumor released {', '.join(ORGANS)}")
    recipes = [r for r in RECIPES if r in denoisers]
    if not recipes or set(denoisers) - set(RECIPES):
        raise InputError("a DiffTumor texture folder needs an early and/or a non-early denoiser "
                         f"(got {sorted(denoisers) or 'none'})")
    if crop_size <= 0 or crop_size % 8:
        raise InputError(f"crop_size must be a positive multiple of 8 (96 released), got {crop_size}")
    tensors = {f"vqgan.{k}": v for k, v in vqgan.items()}
    architecture: dict[str, Any] = {"vqgan": dict(vqgan_args or VQGAN_RELEASED)}
    for r in recipes:
        sd, args, buffers = denoisers[r]
        architecture[r] = dict(args or UNET_RELEASED)
        tensors.update({f"{r}.{k}": v for k, v in sd.items()})
        buffers = buffers or schedule_buffers(RECIPE_FACTS[r]["T"])
        tensors.update({f"schedule.{r}.{k}": v.float() for k, v in buffers.items()})
    if vqgan_early is not None:
        architecture["vqgan_early"] = architecture["vqgan"]
        tensors.update({f"vqgan_early.{k}": v for k, v in vqgan_early.items()})
    config = {"organ": organ, "recipes": {r: dict(RECIPE_FACTS[r]) for r in recipes},
              "size_class_recipe": _size_class_recipe(recipes), "size_bins": "syntumor",
              "crop": {**CROP, "size": int(crop_size)}, "mask_mode": "nearest"}
    files = [{"file": s["file"], "sha256": s["sha256"]} for s in sources or []]
    provenance = {"source": "imported", "imported_from": files, "licence": "see notice", "notice": LICENCE_NOTICE}
    return write_model_folder(out, KIND, architecture=architecture, config=config, tensors=tensors,
                              provenance=provenance, sources=list(sources or []), vqgan_copies=vqgan_copies or {},
                              source_info=source_info or {}, licence=LICENCE_NOTICE)


def _organ_in_name(path: Path, organ: str) -> None:
    stem = path.name.lower()
    other = [o for o in ORGANS if o != organ and stem.startswith(o)]
    if other:
        raise InputError(f"{path}: the file name says {other[0]}, but --organ is {organ}; "
                         "give the matching organ (the reference mode's paste rule depends on it)")


def import_difftumor_texture(autoencoder: str | os.PathLike, early: str | os.PathLike | None = None,
                             noearly: str | os.PathLike | None = None, *, organ: str,
                             out: str | os.PathLike) -> Path:
    """Convert DiffTumor's released files into a SynTumor model folder (``syntumor models import difftumor``).

    Args:
        autoencoder: ``AutoencoderModel.ckpt`` (allowlisted unpickling, SPEC §2).
        early, noearly: ``<organ>_early.pt`` (T = 4) and/or ``<organ>_noearly.pt`` (T = 200);
            at least one (read with ``weights_only=True``; the ``ema`` weights are kept).
        organ: the organ the denoisers were trained for.
        out: the folder to write.

    Raises:
        InputError: a refused global, a missing or misshapen key, a wrong recipe (naming the file).
    """
    if early is None and noearly is None:
        raise InputError("give at least one DiffTumor denoiser (--early and/or --noearly)")
    if organ not in ORGANS:
        raise InputError(f"unknown organ {organ!r}; DiffTumor released {', '.join(ORGANS)}")
    ae_sd, ae_info = load_difftumor_autoencoder(autoencoder)
    sources = [{**_facts(ae_info), "role": "autoencoder"}]
    denoisers: dict[str, tuple] = {}
    copies: dict[str, Any] = {}
    infos: dict[str, Any] = {"autoencoder": {k: ae_info.get(k) for k in ("epoch", "global_step", "lightning_version",
                                                                       "ignored_tensors", "embedding_range",
                                                                       "config")}}
    vqgan_early = None
    for recipe, path in (("early", early), ("noearly", noearly)):
        if path is None:
            continue
        _organ_in_name(Path(path), organ)
        t, info = load_difftumor_denoiser(path, expected_T=RECIPE_FACTS[recipe]["T"])
        sources.append({**_facts(info), "role": recipe})
        copies[recipe] = compare_vqgan_copies(ae_sd, t["vqgan"])
        if recipe == "early" and not copies[recipe]["identical"]:
            vqgan_early = t["vqgan"]  # DiffTumor decodes early samples with the .pt's own copy
        denoisers[recipe] = (t["unet"], None, t["schedule"])
        infos[recipe] = {k: info.get(k) for k in ("step", "T", "schedule_max_abs_diff_vs_cosine",
                                                  "model_vs_ema_max_abs_diff", "which")}
    return write_difftumor_texture(out, organ=organ, vqgan=ae_sd, denoisers=denoisers, vqgan_early=vqgan_early,
                                   sources=sources, vqgan_copies=copies, source_info=infos)


def _facts(info: dict) -> dict:
    return {"file": info["file"], "size": info["size"], "sha256": info["sha256"]}


def _expected_shapes(module_cls, args: dict, label: str) -> dict[str, list[int]]:
    try:
        with torch.device("meta"):
            net = module_cls(**args)
    except (TypeError, ValueError) as e:
        raise ModelFolderError(f"{label}: architecture {args} cannot be built ({e})") from None
    return {k: list(v.shape) for k, v in net.state_dict().items()}


def _check_card(mf: ModelFolder) -> tuple[str, list[str]]:
    label = f"{mf.folder / CARD}"
    cfg, arch = mf.config, mf.architecture
    organ = cfg.get("organ") if isinstance(cfg, dict) else None
    if organ not in ORGANS:
        raise ModelFolderError(f"{label}: organ {organ!r} is not one of {', '.join(ORGANS)}")
    recipes = [r for r in RECIPES if r in (cfg.get("recipes") or {})]
    if not recipes:
        raise ModelFolderError(f"{label}: names no recipe (early / noearly)")
    for r in recipes:
        if not isinstance(arch.get(r), dict):
            raise ModelFolderError(f"{label}: no architecture for the {r} denoiser")
    choice = cfg.get("size_class_recipe") or {}
    bad = {c: r for c, r in choice.items() if r not in recipes}
    if bad:
        raise ModelFolderError(f"{label}: size_class_recipe uses {bad}, but the folder holds only {recipes}")
    size = (cfg.get("crop") or {}).get("size")
    if not isinstance(size, int) or size <= 0 or size % 8:
        raise ModelFolderError(f"{label}: crop size {size!r} must be a positive multiple of 8")
    sources = mf.card.get("sources")
    if not isinstance(sources, list) or not all(isinstance(s, dict) and {"file", "sha256", "role"} <= set(s)
                                                for s in sources):
        raise ModelFolderError(f"{label}: 'sources' must list file, size, SHA-256 and role of each source file")
    return organ, recipes


def _check_tensors(mf: ModelFolder, recipes: list[str]) -> int:
    """Every prefix's names and shapes against the card's architecture (and the manifests when released)."""
    label = str(mf.folder / WEIGHTS)
    tensors = mf.tensors or {}
    groups = {"vqgan": VQGAN3D, **dict.fromkeys(recipes, Unet3D)}
    if "vqgan_early" in mf.architecture:
        groups["vqgan_early"] = VQGAN3D
    man = load_manifests()
    n = 0
    for prefix, cls in groups.items():
        sub = _architecture(tensors, prefix)
        args = mf.architecture.get(prefix)
        expected = _expected_shapes(cls, args or {}, f"{mf.folder / CARD}")
        try:
            check_tensors(sub, expected, label, f"'{prefix}.'")
            if cls is VQGAN3D and args == VQGAN_RELEASED:
                check_tensors(sub, man["autoencoder"], label, f"'{prefix}.'")
            if cls is Unet3D and args == UNET_RELEASED:
                check_tensors(sub, man["unet"], label, f"'{prefix}.'")
        except InputError as e:
            raise ModelFolderError(str(e)) from None
        n += len(sub)
    for r in recipes:
        sub = _architecture(tensors, f"schedule.{r}")
        T = RECIPE_FACTS[r]["T"]
        want = {k: [T] for k in schedule_buffers(T)}
        try:
            check_tensors(sub, want, label, f"'schedule.{r}.'")
        except InputError as e:
            raise ModelFolderError(str(e)) from None
        n += len(sub)
    known = tuple(f"{p}." for p in groups) + tuple(f"schedule.{r}." for r in recipes)
    stray = sorted(k for k in tensors if not k.startswith(known))
    if stray:
        raise ModelFolderError(f"{label}: unexpected tensor(s) {', '.join(stray[:5])} (no such part in {CARD})")
    return n


def verify_difftumor_texture(folder: str | os.PathLike) -> dict[str, Any]:
    """Re-check a ``difftumor-texture`` folder: every file's SHA-256, the card, every tensor's name and shape.

    Returns:
        A JSON-able summary: folder, organ, recipes, the model's identity (``sha256``), tensors
        checked, the sources recorded at import and the VQ-GAN copy comparison.

    Raises:
        ModelFolderError: naming the file and the problem (tampered file, missing or misshapen key,
            inconsistent card).
    """
    mf = load_model_folder(folder, KIND)
    organ, recipes = _check_card(mf)
    n = _check_tensors(mf, recipes)
    return {"folder": str(mf.folder), "kind": KIND, "ok": True, "organ": organ, "recipes": recipes,
            "sha256": mf.sha256, "tensors_checked": n, "weights_sha256": sha256_file(mf.folder / WEIGHTS),
            "sources": mf.card.get("sources"), "vqgan_copies": mf.card.get("vqgan_copies"),
            "size_class_recipe": mf.config.get("size_class_recipe")}


def load_difftumor_texture(folder: str | os.PathLike, device: str | torch.device = "cpu",
                           ) -> tuple[DiffTumorSynthesizer, dict[str, Any]]:
    """The synthesizer of a ``difftumor-texture`` folder (checked as by :func:`verify_difftumor_texture`).

    Returns:
        ``(synthesizer on device, card)``; the card (a copy) also has ``"model_sha256"``, the
        model's identity that texture records store.
    """
    mf = load_model_folder(folder, KIND)
    _, recipes = _check_card(mf)
    _check_tensors(mf, recipes)
    dev = resolve_device(device)
    arch = mf.architecture

    def build(cls, prefix):
        net = cls(**arch[prefix])
        load_into(net, mf.tensors, prefix, mf.folder)
        return net.to(dev).eval()

    vqgan = build(VQGAN3D, "vqgan")
    unets = {r: build(Unet3D, r) if r in recipes else None for r in RECIPES}
    buffers = {r: _architecture(mf.tensors, f"schedule.{r}") if r in recipes else None for r in RECIPES}
    vqgan_early = build(VQGAN3D, "vqgan_early") if "vqgan_early" in arch else None
    syn = DiffTumorSynthesizer(vqgan, unets["early"], unets["noearly"], buffers_early=buffers["early"],
                               buffers_noearly=buffers["noearly"], vqgan_early=vqgan_early)
    return syn, {**mf.card, "model_sha256": mf.sha256}
