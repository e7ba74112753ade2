"""The one model-folder format, for every kind of model SynTumor trains, loads or imports.

A model folder holds safetensors weights (plain tensors: nothing is ever unpickled) and **one JSON
card**, ``model_card.json``::

    model.safetensors    the weights (one file; several networks are told apart by key prefixes)
    model_card.json      the card (below); written last, so a folder without one is unfinished
    ...                  any other file the card lists (a segmenter's splits.json, model_card.md)

The card::

    format, format_version   "syntumor-model", 2
    kind                     segmenter | texture-autoencoder | texture-denoiser | difftumor-texture
    architecture             what builds the network(s) the weights fit, e.g. {"name": "unet", "args": {…}}
    config                   the full configuration the model was trained (or converted) with
    training_data            a summary of the data (datasets, case ids or counts, crops)
    provenance               {"source": "trained"} or, for a model made elsewhere,
                             {"source": "imported", "imported_from": [{"file": "X", "sha256": "Y"}],
                              "licence": "Z", "notice": "…"}
    files                    {file name: SHA-256} of every other file in the folder
    library_version, created the SynTumorLib that wrote it, and when
    …                        kind-specific facts (steps, seed, metrics, validation …)

Loading checks, in order, and raises :class:`~SynTumorLib.utils.errors.ModelFolderError` naming the
file: the folder and its card exist → the card is JSON of a known format version and a known kind
(the one the caller expects) → every listed file exists and has its SHA-256 → the weights parse →
(:func:`load_into`) every tensor matches the architecture (names and shapes).

The model's identity (:attr:`ModelFolder.sha256`, recorded by texture insertions) is the SHA-256 of
kind, architecture, config and the weights' SHA-256 — not of timestamps, so retraining the same
weights gives the same identity.

Folders written by the previous release (format 1: ``config.json`` + ``model_card.json`` and, for
the texture models, ``VERSION``) still load: :func:`migrate_v1` turns them into a version-2 card in
memory, checks their hashes the way they were written, and keeps their identity, so records made
with them still replay. The folder itself is never rewritten.

Example:
    >>> import tempfile, torch
    >>> d = tempfile.mkdtemp()
    >>> _ = write_model_folder(d, "texture-autoencoder", architecture={"autoencoder": {"channels": [4]}},
    ...                        config={"seed": 1}, tensors={"autoencoder.w": torch.ones(2)}, steps=3)
    >>> mf = load_model_folder(d, "texture-autoencoder")
    >>> mf.kind, mf.card["steps"], mf.tensors["autoencoder.w"].tolist(), len(mf.sha256)
    ('texture-autoencoder', 3, [1.0, 1.0], 64)
    >>> load_model_folder(d, "segmenter")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.ModelFolderError: .../model_card.json: holds a 'texture-autoencoder' model, expected 'segmenter'
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..utils.atomic import atomic_path, write_json_atomic, write_text_atomic
from ..utils.errors import ModelFolderError
from ..utils.hashing import sha256_file, sha256_json

FORMAT = "syntumor-model"
FORMAT_VERSION = 2
CARD = "model_card.json"
WEIGHTS = "model.safetensors"
KINDS = {
    "segmenter": "pancreas (1) and tumour (2) segmentation network",
    "texture-autoencoder": "first stage of the latent-diffusion tumour texture",
    "texture-denoiser": "tumour texture model: autoencoder + latent denoiser(s)",
    "difftumor-texture": "DiffTumor's released texture: VQ-GAN + early/non-early denoisers (imported)",
}
CARD_KEYS = ("format", "format_version", "kind", "architecture", "config", "training_data", "provenance", "files",
             "library_version", "created")
V1_KINDS = {"syntumor-autoencoder": "texture-autoencoder", "syntumor-texture-diffusion": "texture-denoiser"}


@dataclass
class ModelFolder:
    """A checked model folder: its card, and its tensors once :func:`load_model_folder` has read them."""

    folder: Path
    card: dict[str, Any]
    sha256: str
    tensors: dict[str, Any] | None = field(default=None, repr=False)
    migrated_from: int | None = None

    @property
    def kind(self) -> str:
        return self.card["kind"]

    @property
    def architecture(self) -> dict[str, Any]:
        return self.card["architecture"]

    @property
    def config(self) -> dict[str, Any]:
        return self.card["config"]


def identity(kind: str, architecture: dict, config: dict, weights_sha256: str) -> str:
    """The model's identity: SHA-256 of what decides its outputs (see the module doc)."""
    return sha256_json({"kind": kind, "architecture": architecture, "config": config, "weights": weights_sha256})


def write_model_folder(folder: str | os.PathLike, kind: str, *, architecture: dict[str, Any], config: dict[str, Any],
                       tensors: dict[str, Any], training_data: dict[str, Any] | None = None,
                       provenance: dict[str, Any] | None = None, extra_files: dict[str, str | bytes] | None = None,
                       markdown=None, **facts: Any) -> Path:
    """Write (or replace) a model folder: the weights and other files first, the card with their hashes last.

    Args:
        kind: one of :data:`KINDS`.
        architecture, config, training_data, provenance: the card's sections (see the module doc);
            ``provenance`` defaults to ``{"source": "trained"}``.
        tensors: name → tensor (moved to the CPU, made contiguous).
        extra_files: more files (name → text or bytes), listed and hashed in the card.
        markdown: optional ``card -> str`` that renders ``model_card.md`` for humans.
        facts: kind-specific card entries (steps, seed, metrics …).
    """
    from safetensors.torch import save_file

    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(KINDS)}")
    clash = sorted(set(facts) & set(CARD_KEYS))
    if clash:
        raise ValueError(f"card facts may not replace the card's own keys {clash}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        # one metadata key only: safetensors writes its metadata from a hash map whose order changes between
        # processes, and identical weights must give an identical file (its SHA-256 is the model's identity)
        save_file(flat, str(tmp), metadata={"format": "pt"})
    files = {WEIGHTS: sha256_file(folder / WEIGHTS)}
    for name, content in (extra_files or {}).items():
        _write_file(folder / name, content)
        files[name] = sha256_file(folder / name)
    card: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "architecture": architecture,
        "config": config, "training_data": training_data or {}, "provenance": provenance or {"source": "trained"},
        "files": files, "library_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **facts,
    }
    if markdown is not None:
        _write_file(folder / "model_card.md", markdown(card))
        files["model_card.md"] = sha256_file(folder / "model_card.md")
    write_json_atomic(folder / CARD, card)
    return folder


def _write_file(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(content)
    else:
        write_text_atomic(path, content)


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelFolderError(f"{path}: missing — not a (complete) model folder")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFolderError(f"{path}: unreadable or not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ModelFolderError(f"{path}: expected a JSON object")
    return obj


def _check_hash(path: Path, expected: Any) -> str:
    if not path.is_file():
        raise ModelFolderError(f"{path}: missing (listed in {CARD})")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelFolderError(f"{path}: SHA-256 {actual[:12]}… differs from the {str(expected)[:12]}… recorded in "
                               "the model card (corrupt, truncated or replaced file)")
    return actual


def migrate_v1(folder: Path, card: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A previous-release (format 1) folder's card as a version-2 card, and its identity (see the module doc)."""
    old = card.get("format")
    if old != "syntumor-segmenter/1" and old not in V1_KINDS:
        raise ModelFolderError(f"{folder}/{CARD}: unknown model format {old!r} (this SynTumorLib reads "
                               f"{FORMAT!r} versions 1 and {FORMAT_VERSION})")
    config = _json(folder / "config.json")
    if old == "syntumor-segmenter/1":
        kind = "segmenter"
    elif config.get("format") == old:
        kind = V1_KINDS[old]
        if config.get("format_version") != 1:
            raise ModelFolderError(f"{folder}/config.json: format version {config.get('format_version')!r} is not "
                                   f"supported (this SynTumorLib reads 1 and {FORMAT_VERSION})")
        try:  # "<format> <format version> SynTumorLib <library version>", as the previous release wrote it
            words = (folder / "VERSION").read_text(encoding="utf-8").split()
        except FileNotFoundError:
            raise ModelFolderError(f"{folder}/VERSION: missing — not a (complete) model folder") from None
        except (OSError, UnicodeDecodeError):
            words = []
        if len(words) < 2 or words[0] != old or words[1] != "1":
            raise ModelFolderError(f"{folder}/VERSION: says {' '.join(words[:4])!r}, expected '{old} 1 SynTumorLib …' "
                                   "(another kind of model, another format version, or a damaged folder)")
        _check_hash(folder / "config.json", card.get("config_sha256"))
    else:
        raise ModelFolderError(f"{folder}/config.json: holds a {config.get('format')!r} model, the card a {old!r} one")
    weights = _check_hash(folder / WEIGHTS, card.get("weights_sha256"))
    if kind == "segmenter":
        architecture = config.get("model")
        data = {**(card.get("data") or {}), "n_cases": card.get("n_cases")}
    else:
        config = {k: v for k, v in config.items() if k not in ("format", "format_version")}
        architecture = {"autoencoder": config.get("autoencoder")}
        if kind == "texture-denoiser":
            architecture.update(diffusion=config.get("diffusion"), latent_channels=config.get("latent_channels"))
        data = card.get("data") or {}
    facts = {k: v for k, v in card.items() if k not in (*CARD_KEYS, "data", "weights_sha256", "config_sha256")}
    new = {**facts, "format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "architecture": architecture,
           "config": config, "training_data": data, "provenance": {"source": "trained"},
           "files": {WEIGHTS: weights}, "library_version": card.get("library_version"), "created": card.get("created")}
    # the identity format-1 records hold: SHA-256 over the config's and the weights' SHA-256
    legacy = hashlib.sha256((sha256_file(folder / "config.json") + weights).encode()).hexdigest()
    return new, legacy


def inspect_model_folder(folder: str | os.PathLike, kind: str | None = None) -> ModelFolder:
    """Check a model folder's card and every file's hash (not the weights' contents); see the module doc."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: model folder not found")
    card = _json(folder / CARD)
    migrated = None
    if card.get("format") == FORMAT:
        version = card.get("format_version")
        if version != FORMAT_VERSION:
            raise ModelFolderError(f"{folder}/{CARD}: format version {version!r} is not supported "
                                   f"(this SynTumorLib reads 1 and {FORMAT_VERSION})")
        missing = [k for k in ("kind", "architecture", "config", "files") if k not in card]
        if missing:
            raise ModelFolderError(f"{folder}/{CARD}: incomplete model card, missing {', '.join(missing)}")
        files = card["files"]
        if not isinstance(files, dict) or WEIGHTS not in files:
            raise ModelFolderError(f"{folder}/{CARD}: 'files' must list {WEIGHTS} with its SHA-256")
    else:
        card, legacy = migrate_v1(folder, card)
        migrated = 1
    if card["kind"] not in KINDS:
        raise ModelFolderError(f"{folder}/{CARD}: unknown model kind {card['kind']!r} (known: {', '.join(KINDS)})")
    if kind is not None and card["kind"] != kind:
        raise ModelFolderError(f"{folder}/{CARD}: holds a {card['kind']!r} model, expected {kind!r}")
    if migrated is None:
        for name, digest in card["files"].items():
            _check_hash(folder / name, digest)
        sha = identity(card["kind"], card["architecture"], card["config"], card["files"][WEIGHTS])
    else:
        sha = legacy
    return ModelFolder(folder=folder, card=card, sha256=sha, migrated_from=migrated)


def load_model_folder(folder: str | os.PathLike, kind: str) -> ModelFolder:
    """:func:`inspect_model_folder`, then read the weights (on the CPU)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    mf = inspect_model_folder(folder, kind)
    try:
        mf.tensors = load_file(str(mf.folder / WEIGHTS), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelFolderError(f"{mf.folder}/{WEIGHTS}: cannot be read ({e})") from None
    return mf


def model_sha256(folder: str | os.PathLike) -> str:
    """The identity of the model in ``folder`` (checks the folder first)."""
    return inspect_model_folder(folder).sha256


def load_into(module, tensors: dict[str, Any], prefix: str, folder: str | os.PathLike) -> None:
    """Load the ``prefix.*`` tensors (all of them for ``prefix=""``) into ``module``.

    Any missing, unexpected or mis-shaped tensor is a ModelFolderError naming the weights file.
    """
    own = module.state_dict()
    sub = dict(tensors) if not prefix else {k[len(prefix) + 1:]: v for k, v in tensors.items()
                                            if k.startswith(prefix + ".")}
    missing = [k for k in own if k not in sub]
    unexpected = [k for k in sub if k not in own]
    shapes = [f"{k}: shape {tuple(sub[k].shape)} in the file, {tuple(v.shape)} in the network" for k, v in own.items()
              if k in sub and tuple(sub[k].shape) != tuple(v.shape)]
    problems = [f"{len(items)} {what} (e.g. {items[0]})" for what, items in
                (("missing", missing), ("unexpected", unexpected), ("of another shape", shapes)) if items]
    if problems:
        what = f"weights '{prefix}'" if prefix else "weights"
        raise ModelFolderError(f"{Path(folder) / WEIGHTS}: {what} do not match the architecture in {CARD}: "
                               f"{'; '.join(problems)}")
    import torch

    with torch.no_grad():
        module.load_state_dict(sub, strict=True)


def prefixed(prefix: str, module) -> dict[str, Any]:
    """``module``'s state dict with every key under ``prefix.``."""
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}
