"""Model folders: ``config.json`` + ``model.safetensors`` + ``model_card.json`` + ``VERSION``.

Weights are stored with safetensors (plain tensors — nothing is ever unpickled). Loading checks,
in order: the files exist; the JSON parses; the format and version are ours; the weights' SHA-256
equals the one in the model card (truncation, bit flips, a weights file from another run); the
safetensors header parses; every tensor matches the architecture the config builds (names and
shapes). Any failure is a :class:`~SynTumorLib.utils.errors.ModelFolderError` naming the folder.

Example:
    >>> import tempfile, torch
    >>> d = tempfile.mkdtemp()
    >>> _ = save_model_folder(d, "syntumor-autoencoder", {"a": 1}, {"w": torch.ones(2)}, {"steps": 3})
    >>> cfg, tensors, card, sha = load_model_folder(d, "syntumor-autoencoder")
    >>> cfg["a"], tensors["w"].tolist(), card["steps"], len(sha)
    (1, [1.0, 1.0], 3, 64)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ... import __version__
from ...utils.atomic import atomic_path, write_json_atomic, write_text_atomic
from ...utils.errors import ModelFolderError

FORMAT_VERSION = 1
FILES = ("config.json", "model.safetensors", "model_card.json", "VERSION")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model_folder(folder: str | os.PathLike, kind: str, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                      card: dict[str, Any]) -> Path:
    """Write a model folder atomically file by file (weights first, the card with their hash last)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    flat = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    with atomic_path(folder / "model.safetensors") as tmp:
        # one metadata key only: safetensors writes a hash map whose key order changes between processes,
        # and identical weights must give an identical file (the record's SHA-256)
        save_file(flat, str(tmp), metadata={"format": f"{kind}/{FORMAT_VERSION}"})
    write_json_atomic(folder / "config.json", {"format": kind, "format_version": FORMAT_VERSION, **config})
    write_text_atomic(folder / "VERSION", f"{kind} {FORMAT_VERSION} SynTumorLib {__version__}\n")
    write_json_atomic(folder / "model_card.json", {
        **card, "format": kind, "library_version": __version__,
        "weights_sha256": sha256_file(folder / "model.safetensors"),
        "config_sha256": sha256_file(folder / "config.json"),
    })
    return folder


def folder_sha256(folder: str | os.PathLike) -> str:
    """One hash for a model folder: SHA-256 over the config's and the weights' SHA-256 (for records)."""
    folder = Path(folder)
    parts = [sha256_file(folder / "config.json"), sha256_file(folder / "model.safetensors")]
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def _json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFolderError(f"{path}: unreadable or not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ModelFolderError(f"{path}: expected a JSON object")
    return obj


def load_model_folder(folder: str | os.PathLike, kind: str) -> tuple[dict, dict[str, torch.Tensor], dict, str]:
    """Check and read a model folder: returns (config, tensors, card, folder SHA-256)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: model folder not found")
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise ModelFolderError(f"{folder}: not a complete model folder, missing {', '.join(missing)}")
    config, card = _json(folder / "config.json"), _json(folder / "model_card.json")
    if config.get("format") != kind:
        raise ModelFolderError(f"{folder}: holds a {config.get('format')!r} model, expected {kind!r}")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFolderError(f"{folder}: format version {config.get('format_version')} is not supported "
                               f"(this SynTumorLib reads version {FORMAT_VERSION})")
    for name, key in (("model.safetensors", "weights_sha256"), ("config.json", "config_sha256")):
        if sha256_file(folder / name) != card.get(key):
            raise ModelFolderError(f"{folder}: {name} does not match the SHA-256 in model_card.json "
                                   "(truncated, corrupt or replaced file)")
    try:
        tensors = load_file(str(folder / "model.safetensors"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelFolderError(f"{folder}: model.safetensors cannot be read ({e})") from None
    return config, tensors, card, folder_sha256(folder)


def load_into(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, folder: str | os.PathLike) -> None:
    """Load ``prefix.*`` tensors into ``module``; any missing, extra or mis-shaped tensor is an error."""
    own = module.state_dict()
    sub = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    problems = [f"missing {k}" for k in own if k not in sub]
    problems += [f"unexpected {k}" for k in sub if k not in own]
    problems += [f"{k}: shape {tuple(sub[k].shape)} ≠ {tuple(v.shape)}" for k, v in own.items()
                 if k in sub and sub[k].shape != v.shape]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ModelFolderError(f"{folder}: weights '{prefix}' do not match the architecture in config.json: "
                               f"{'; '.join(problems[:3])}{more}")
    module.load_state_dict(sub, strict=True)


def prefixed(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}
