"""DiffTumor's released segmenters as SynTumor segmenter model folders.

:func:`import_difftumor_segmenter` reads a released checkpoint through the safe loader of
:mod:`~SynTumorLib.segmentation.difftumor_segmenters` (nothing unpickled is executed), checks every
tensor against the MONAI 1.6.1 network and writes a ``segmenter`` model folder whose card says how
the network must be fed (``config.recipe = "difftumor-released"``, ``config.preprocessing``: RAS
orientation with (R, A, S) array axes, 1 mm, the −175…250 HU window, 96³ windows at overlap 0.75,
logits resampled back bilinearly; Swin-UNETR's legacy ``"merging"`` order in
``architecture.downsample``). :func:`~SynTumorLib.segmentation.model_folder.load_model` recognises
the recipe, so ``syntumor predict``, ``evaluate`` on its outputs, the studies and the Segmentation
panel use these folders like any trained one (:mod:`~SynTumorLib.segmentation.difftumor_inference`).

Example:
    >>> import_difftumor_segmenter("unet_synt_pancreas_tumors.pt", "unet", "pancreas", "models/dt-unet")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..models.catalogue import ORGANS
from ..runtime.model_folder import (
    CARD,
    WEIGHTS,
    ModelFolder,
    inspect_model_folder,
    load_into,
    load_model_folder,
)
from ..runtime.model_folder import write_model_folder as _write
from ..texture.difftumor.licence import LICENCE_NOTICE
from ..utils.errors import InputError, ModelFolderError
from ..utils.hashing import sha256_file

RECIPE = "difftumor-released"
#: the names DiffTumor's files and README use → the MONAI class they load into
ARCH_ALIASES = {"unet": "unet", "nnunet": "dynunet", "dynunet": "dynunet", "swinunetr": "swinunetr"}
LICENCE = "Apache-2.0 (tag of the Hugging Face repository MrGiovanni/DiffTumor)"
NOTICE = LICENCE_NOTICE  # the one notice every imported DiffTumor folder carries


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def released_architecture(arch: str) -> dict[str, Any]:
    """The card's ``architecture`` for a released ``arch``: MONAI class, arguments, Swin downsampling."""
    from .difftumor_segmenters import RELEASED_ARCHITECTURES

    spec = {"name": arch, "args": _jsonable(RELEASED_ARCHITECTURES[arch]), "builder": RECIPE}
    if arch == "swinunetr":
        spec["downsample"] = "legacy-merging"
    return spec


def released_config(organ: str) -> dict[str, Any]:
    """The card's ``config``: the recipe and the preprocessing the networks were trained with."""
    from .difftumor_segmenters import LABELS, PREPROCESSING

    return {"recipe": RECIPE, "organ": organ, "labels": [LABELS[0], organ, f"{organ} tumour"],
            "preprocessing": _jsonable(PREPROCESSING)}


def import_difftumor_segmenter(checkpoint: str | os.PathLike, arch: str, organ: str, out: str | os.PathLike,
                               progress=None) -> Path:
    """Convert a released ``{unet,nnunet,swinunetr}_synt_<organ>_tumors.pt`` into a model folder.

    Args:
        checkpoint: the released file (or a renamed ``model.pt``).
        arch: ``unet``, ``nnunet`` (= ``dynunet``) or ``swinunetr``; must match the weights.
        organ: the organ the network segments as label 1 (pancreas, liver, kidney).
        out: the model folder to write.
        progress: ``callback(fraction, message)``.

    Returns:
        ``out``. Raises InputError naming the file and the problem (refused global, wrong layout …).
    """
    from .difftumor_segmenters import load_difftumor_segmenter

    cb = progress or (lambda f, m="": None)
    checkpoint = Path(checkpoint)
    if arch not in ARCH_ALIASES:
        raise InputError(f"unknown DiffTumor segmenter '{arch}'; choose one of unet, nnunet, swinunetr")
    if organ not in ORGANS:
        raise InputError(f"unknown organ '{organ}'; choose one of {', '.join(ORGANS)}")
    if not checkpoint.is_file():
        raise InputError(f"{checkpoint}: checkpoint not found")
    monai_arch = ARCH_ALIASES[arch]
    cb(0.1, f"reading {checkpoint.name}")
    tensors, info = load_difftumor_segmenter(checkpoint, monai_arch)
    cb(0.7, "writing the model folder")
    source = {"file": checkpoint.name, "size_bytes": checkpoint.stat().st_size, "sha256": sha256_file(checkpoint)}
    released = {k: info[k] for k in ("epoch", "best_acc", "prefix_removed", "tensors_in_file", "globals", "renamed",
                                      "dropped", "extra_entries")}
    folder = _write(out, "segmenter", architecture=released_architecture(monai_arch), config=released_config(organ),
                    tensors=tensors,
                    training_data={"source": "DiffTumor release", "organ": organ,
                                   "summary": "real and synthetic tumours, one organ per network, five-fold splits "
                                              "(the fold of the released file is not stated)"},
                    provenance={"source": "imported", "imported_from": [source], "licence": LICENCE, "notice": NOTICE},
                    markdown=_markdown, labels={"0": "background", "1": organ, "2": f"{organ} tumour"},
                    released=json.loads(json.dumps(released, default=str)))
    cb(1.0, "done")
    return folder


def _markdown(card: dict) -> str:
    arch, cfg, src = card["architecture"], card["config"], card["provenance"]["imported_from"][0]
    pre = cfg["preprocessing"]
    return "\n".join([
        f"# DiffTumor released segmenter: {arch['name']} ({cfg['organ']})", "",
        f"- imported from `{src['file']}` ({src['size_bytes']} bytes, SHA-256 `{src['sha256']}`)",
        f"- labels: 0 background, 1 {cfg['organ']}, 2 {cfg['organ']} tumour",
        f"- input: {pre['orientation']} arrays with axes {pre['array_axes']}, {pre['spacing_mm']} mm, "
        f"HU window {pre['window_hu']} → [0, 1], windows {pre['roi_size']} at overlap {pre['overlap']}",
        f"- Swin downsampling: {arch.get('downsample', 'n/a')}",
        f"- licence: {card['provenance']['licence']}", "", card["provenance"]["notice"], ""])


def is_released(card: dict) -> bool:
    """Whether a segmenter card is an imported DiffTumor network (fed by its own recipe)."""
    return isinstance(card.get("config"), dict) and card["config"].get("recipe") == RECIPE


def _check_card(mf: ModelFolder) -> str:
    """The MONAI architecture of a released folder, after checking the card against the recipe."""
    arch = mf.architecture.get("name") if isinstance(mf.architecture, dict) else None
    where = mf.folder / CARD
    if arch not in ("unet", "dynunet", "swinunetr"):
        raise ModelFolderError(f"{where}: unknown released architecture {arch!r}")
    if mf.architecture != released_architecture(arch):
        raise ModelFolderError(f"{where}: the architecture differs from DiffTumor's released {arch} "
                               "(edited card?); re-import the checkpoint")
    organ = mf.config.get("organ")
    if mf.config != released_config(organ if organ in ORGANS else "pancreas"):
        raise ModelFolderError(f"{where}: the preprocessing differs from DiffTumor's recipe (edited card?); "
                               "re-import the checkpoint")
    return arch


def released_network(mf: ModelFolder, device) -> tuple[Any, Any, dict[str, Any]]:
    """``(network in eval mode, device, preprocessing)`` of a checked released folder (weights loaded strictly).

    :func:`~SynTumorLib.segmentation.model_folder.load_model` wraps them in its ``LoadedModel``.
    """
    from ..runtime.devices import resolve_device
    from .difftumor_segmenters import build_released_network

    arch = _check_card(mf)
    net = build_released_network(arch)
    load_into(net, mf.tensors, "", mf.folder)
    dev = resolve_device(device)
    net.to(dev).eval()
    return net, dev, dict(mf.config["preprocessing"])


def verify_difftumor_segmenter(folder: str | os.PathLike) -> dict[str, Any]:
    """Re-check an imported segmenter folder: hashes, the card against the recipe, every tensor strictly.

    Returns a summary (architecture, organ, tensors, source file and SHA-256, model identity).
    """
    mf = inspect_model_folder(folder, "segmenter")
    if not is_released(mf.card):
        raise ModelFolderError(f"{mf.folder}/model_card.json: not an imported DiffTumor segmenter")
    mf = load_model_folder(folder, "segmenter")
    net, _dev, _pre = released_network(mf, "cpu")
    src = (mf.card.get("provenance") or {}).get("imported_from") or [{}]
    return {"kind": "difftumor-segmenter", "folder": str(mf.folder), "architecture": _check_card(mf),
            "organ": mf.config["organ"], "tensors": len(mf.tensors),
            "parameters": int(sum(p.numel() for p in net.parameters())),
            "weights_sha256": mf.card["files"][WEIGHTS], "source": src[0], "identity": mf.sha256,
            "downsample": mf.architecture.get("downsample")}
