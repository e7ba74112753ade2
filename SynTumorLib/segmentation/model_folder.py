"""Model folders: everything needed to run a trained segmenter, and nothing executable.

Layout::

    config.json          the resolved TrainConfig (planned network, spacing) — rebuilds the network
    model.safetensors    weights (the selected checkpoint: best validation tumour Dice, ties → pancreas Dice,
                         then later step; no validation split → last)
    model_card.json/.md  data, arm, steps, validation metrics, library version, sha256 of the weights
    splits.json          train / val / test case ids
    (training also leaves log.csv, log.json, loss.png and checkpoints/ — not needed for inference)

Loading checks, in order: files present → JSON readable → weights hash equals the card's →
safetensors parses (truncation) → state-dict keys and shapes equal the configured network's. Any
failure raises :class:`ModelFolderError` naming the folder and the problem.

Example:
    >>> lm = load_model("models/unet-large", device="cpu")   # doctest: +SKIP
    >>> lm.config.model["name"], lm.card["steps"]            # doctest: +SKIP
    ('unet', 20000)
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..utils.atomic import atomic_path, write_json_atomic, write_text_atomic
from ..utils.errors import InputError, ModelFolderError
from ..utils.jsonio import read_json
from .config import TrainConfig

WEIGHTS = "model.safetensors"
REQUIRED = ("config.json", WEIGHTS, "model_card.json")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class LoadedModel:
    """A network ready for inference with its config and model card."""

    net: Any
    config: TrainConfig
    card: dict
    folder: Path | None = None
    device: Any = field(default=None)

    def to(self, device) -> LoadedModel:
        self.net.to(device)
        self.device = device
        return self


def save_weights(state_dict: dict, path: Path) -> str:
    """Write a state dict as safetensors atomically; return its sha256."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "library": f"SynTumorLib {__version__}"})
    return sha256_file(path)


def write_model_folder(folder: Path, config: TrainConfig, state_dict: dict, splits: dict, card: dict) -> Path:
    """Write (or update) a model folder; the weights first, the card (with their hash) last."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "config.json", config.to_dict())
    write_json_atomic(folder / "splits.json", splits)
    digest = save_weights(state_dict, folder / WEIGHTS)
    card = {
        "format": "syntumor-segmenter/1",
        "library_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": config.model["name"],
        "labels": {"0": "background", "1": "pancreas", "2": "tumour"},
        "spacing": config.spacing,
        "crop_size": config.crop_size,
        "hu_window": config.hu_window,
        "data": dict(config.data),
        "n_cases": {k: len(v) for k, v in splits.items()},
        **card,
        "weights_sha256": digest,
    }
    write_json_atomic(folder / "model_card.json", card)
    write_text_atomic(folder / "model_card.md", _card_markdown(card))
    return folder


def _card_markdown(card: dict) -> str:
    val = card.get("validation") or {}
    lines = [f"# Segmenter: {card['model']}", "",
             f"- library: SynTumorLib {card['library_version']}, created {card['created']}",
             f"- training data: real={card['data'].get('real')}, healthy={card['data'].get('healthy')}, "
             f"arm={card['data'].get('arm')}, offline synthetic={card['data'].get('offline_synthetic')}, "
             f"noisy labels={card['data'].get('noisy_labels')}",
             f"- cases: {card['n_cases']}",
             f"- steps: {card.get('steps')} (weights from step {card.get('selected_step')}, {card.get('selected_by')})",
             f"- spacing {card['spacing']} mm, crop {card['crop_size']}, HU window {card['hu_window']}",
             f"- validation: tumour Dice {val.get('tumour_dice')}, pancreas Dice {val.get('pancreas_dice')}",
             f"- seed: {card.get('seed')}", f"- weights sha256: `{card['weights_sha256']}`", ""]
    return "\n".join(lines)


def load_model(folder: str | Path, device="cpu") -> LoadedModel:
    """Load and check a model folder (see the module docstring); returns a :class:`LoadedModel` in eval mode."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .devices import resolve_device
    from .networks import build_network

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: model folder not found")
    missing = [f for f in REQUIRED if not (folder / f).is_file()]
    if missing:
        raise ModelFolderError(f"{folder}: not a model folder — missing {', '.join(missing)}")
    try:
        config = TrainConfig.from_json(folder / "config.json")
        card = read_json(folder / "model_card.json")
    except InputError as e:
        raise ModelFolderError(f"{folder}: unreadable model folder ({e})") from None
    if config.spacing is None:
        raise ModelFolderError(f"{folder}/config.json: spacing is unresolved (null) — not written by training")
    expected = card.get("weights_sha256")
    if not expected:
        raise ModelFolderError(f"{folder}/model_card.json: no weights_sha256 recorded")
    actual = sha256_file(folder / WEIGHTS)
    if actual != expected:
        raise ModelFolderError(f"{folder}/{WEIGHTS}: sha256 {actual[:12]}… differs from the model card's "
                               f"{expected[:12]}… (corrupt, truncated or replaced weights)")
    try:
        state = load_file(str(folder / WEIGHTS), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFolderError(f"{folder}/{WEIGHTS}: cannot be read ({e})") from None
    try:
        net = build_network(config.model)
    except (InputError, KeyError, TypeError) as e:
        raise ModelFolderError(f"{folder}/config.json: cannot build the network ({e})") from None
    ref = net.state_dict()
    extra, lacking = sorted(set(state) - set(ref)), sorted(set(ref) - set(state))
    if extra or lacking:
        raise ModelFolderError(f"{folder}: weights do not match the '{config.model['name']}' architecture in config.json "
                               f"({len(lacking)} missing keys e.g. {lacking[:2]}, {len(extra)} unexpected e.g. {extra[:2]})")
    wrong = [(k, tuple(state[k].shape), tuple(ref[k].shape)) for k in ref if tuple(state[k].shape) != tuple(ref[k].shape)]
    if wrong:
        k, got, want = wrong[0]
        raise ModelFolderError(f"{folder}: weights do not match config.json's architecture: {len(wrong)} tensors differ "
                               f"in shape, e.g. {k}: {got} in the file, {want} configured")
    with torch.no_grad():
        net.load_state_dict(state, strict=True)
    dev = resolve_device(device) if isinstance(device, str) else device
    net.to(dev).eval()
    return LoadedModel(net=net, config=config, card=card, folder=folder, device=dev)
