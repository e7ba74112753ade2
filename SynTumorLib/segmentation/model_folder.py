"""Segmenter model folders: the common format (:mod:`SynTumorLib.runtime.model_folder`) of kind
``segmenter``.

Layout::

    model.safetensors    weights (the selected checkpoint: best validation tumour Dice, ties → pancreas Dice,
                         then later step; no validation split → last)
    model_card.json      the card: architecture (the planned network), config (the resolved TrainConfig:
                         spacing, crop, HU window …), training data, steps, validation metrics, seed, hashes
    model_card.md        the card for humans
    splits.json          train / val / test case ids
    (training also leaves log.csv, log.json, loss.png and checkpoints/ — not needed for inference)

Loading checks the card and every hash (see the format's module), then that the config is a valid
TrainConfig with a resolved spacing, then that the weights fit the architecture. Any failure raises
:class:`ModelFolderError` naming the file and the problem. Folders of the previous release
(``config.json`` + ``model_card.json``) load through the format's migration. Folders imported from
DiffTumor's released segmenters (``config.recipe == "difftumor-released"``,
:mod:`~SynTumorLib.segmentation.difftumor_folder`) have no TrainConfig: they load with
``config=None`` and their recipe in ``LoadedModel.preprocessing``.

Example:
    >>> lm = load_model("models/unet-large", device="cpu")   # doctest: +SKIP
    >>> lm.config.model["name"], lm.card["steps"]            # doctest: +SKIP
    ('unet', 20000)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.labels import LABEL_NAMES
from ..runtime.model_folder import CARD, WEIGHTS, load_into, load_model_folder
from ..runtime.model_folder import write_model_folder as _write
from ..utils.errors import InputError, ModelFolderError
from .config import TrainConfig

KIND = "segmenter"


@dataclass
class LoadedModel:
    """A network ready for inference with its config and model card."""

    net: Any
    config: TrainConfig | None  # None for an imported DiffTumor network (its card's recipe says how to feed it)
    card: dict
    folder: Path | None = None
    device: Any = field(default=None)
    #: an imported network's own preprocessing (difftumor_folder); None: the config's spacing and window
    preprocessing: dict | None = None

    def to(self, device) -> LoadedModel:
        self.net.to(device)
        self.device = device
        return self


def save_weights(state_dict: dict, path: Path) -> None:
    """Write a state dict as safetensors atomically (the trainer's ``best.safetensors``)."""
    from safetensors.torch import save_file

    from ..utils.atomic import atomic_path

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})


def write_model_folder(folder: Path, config: TrainConfig, state_dict: dict, splits: dict, facts: dict) -> Path:
    """Write (or update) a segmenter model folder; ``facts`` are the card's training facts (steps, validation …)."""
    data = {**dict(config.data), "n_cases": {k: len(v) for k, v in splits.items()}}
    return _write(folder, KIND, architecture=config.model, config=config.to_dict(), tensors=state_dict,
                  training_data=data, extra_files={"splits.json": json.dumps(splits, indent=2) + "\n"},
                  markdown=_card_markdown, labels={str(k): v for k, v in LABEL_NAMES.items()}, **facts)


def _card_markdown(card: dict) -> str:
    val = card.get("validation") or {}
    cfg, data = card["config"], card["training_data"]
    lines = [f"# Segmenter: {card['architecture']['name']}", "",
             f"- library: SynTumorLib {card['library_version']}, created {card['created']}",
             f"- training data: real={data.get('real')}, healthy={data.get('healthy')}, "
             f"arm={data.get('arm')}, offline synthetic={data.get('offline_synthetic')}, "
             f"noisy labels={data.get('noisy_labels')}",
             f"- cases: {data.get('n_cases')}",
             f"- steps: {card.get('steps')} (weights from step {card.get('selected_step')}, {card.get('selected_by')})",
             f"- spacing {cfg['spacing']} mm, crop {cfg['crop_size']}, HU window {cfg['hu_window']}",
             f"- validation: tumour Dice {val.get('tumour_dice')}, pancreas Dice {val.get('pancreas_dice')}",
             f"- seed: {card.get('seed')}", f"- weights sha256: `{card['files'][WEIGHTS]}`", ""]
    return "\n".join(lines)


def load_model(folder: str | Path, device="cpu") -> LoadedModel:
    """Load and check a segmenter model folder; returns a :class:`LoadedModel` in eval mode."""
    from ..runtime.devices import resolve_device
    from .networks import build_network

    mf = load_model_folder(folder, KIND)
    from .difftumor_folder import is_released, released_network

    if is_released(mf.card):  # DiffTumor's released networks carry their own recipe, not a TrainConfig
        net, dev, preprocessing = released_network(mf, device)
        return LoadedModel(net=net, config=None, card=mf.card, folder=mf.folder, device=dev,
                           preprocessing=preprocessing)
    where = mf.folder / ("config.json" if mf.migrated_from else CARD)
    try:
        config = TrainConfig.from_dict(mf.config, source=str(where))
    except InputError as e:
        raise ModelFolderError(f"{mf.folder}: unreadable model folder ({e})") from None
    if config.spacing is None:
        raise ModelFolderError(f"{where}: spacing is unresolved (null) — not written by training")
    try:
        net = build_network(mf.architecture)
    except (InputError, KeyError, TypeError) as e:
        raise ModelFolderError(f"{where}: cannot build the network ({e})") from None
    load_into(net, mf.tensors, "", mf.folder)
    dev = resolve_device(device)
    net.to(dev).eval()
    return LoadedModel(net=net, config=config, card=mf.card, folder=mf.folder, device=dev)
