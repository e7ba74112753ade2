"""The one training-checkpoint format: plain tensors and containers saved with ``torch.save`` and read
back with ``torch.load(weights_only=True)`` — nothing arbitrary is ever unpickled, so a checkpoint
from elsewhere cannot run code on load.

A checkpoint is a dict ``{"format": "syntumor-checkpoint", "version": 2, "kind": <trainer>, "step":
N, ...}`` plus what the trainer needs to continue (state dicts, the run's config, history) and the
RNG states of torch, numpy and Python (:func:`rng_state`) for bit-exact resume. Writes are atomic: a
kill during a save leaves the previous checkpoint intact.

Checkpoints of the previous release load too (:func:`migrate`): the segmenter's
``"syntumor-checkpoint/1"`` and the texture trainers' untagged dicts.

Example:
    >>> import torch, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "last.pt"
    >>> save_checkpoint(p, "segmenter", {"step": 3, "model": {"w": torch.ones(2)}})
    >>> load_checkpoint(p, "segmenter")["step"]
    3
    >>> load_checkpoint(p, "texture-denoiser")
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.ModelFolderError: ...last.pt: a 'segmenter' checkpoint, not a 'texture-denoiser' one
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from ..utils.atomic import atomic_path
from ..utils.errors import ModelFolderError

FORMAT = "syntumor-checkpoint"
VERSION = 2
KINDS = ("segmenter", "texture-autoencoder", "texture-denoiser")


def rng_state() -> dict:
    """The RNG states of torch (CPU and CUDA), numpy's legacy global RNG and Python's ``random``."""
    import torch

    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "python": {"version": int(py_state[0]), "state": list(py_state[1]),
                   "gauss": py_state[2] if py_state[2] is None else float(py_state[2])},
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    import torch

    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def save_checkpoint(path: str | Path, kind: str, payload: dict[str, Any]) -> None:
    """Atomically ``torch.save`` a dict of tensors and plain containers, tagged with format, version, kind."""
    import torch

    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    with atomic_path(path) as tmp:
        torch.save({**payload, "format": FORMAT, "version": VERSION, "kind": kind}, tmp)


def migrate(ckpt: dict[str, Any]) -> dict[str, Any] | None:
    """A previous release's checkpoint in today's form (None when it is not one)."""
    if ckpt.get("format") == "syntumor-checkpoint/1":  # the segmenter's, same payload
        return {**ckpt, "format": FORMAT, "version": VERSION, "kind": "segmenter"}
    if "format" not in ckpt and "step" in ckpt and "seed" in ckpt:  # the texture trainers' untagged dicts
        if "autoencoder" in ckpt and "opt_g" in ckpt:
            return {**ckpt, "format": FORMAT, "version": VERSION, "kind": "texture-autoencoder"}
        if any(str(k).startswith("unet.") for k in ckpt):
            return {**ckpt, "format": FORMAT, "version": VERSION, "kind": "texture-denoiser"}
    return None


def load_checkpoint(path: str | Path, kind: str) -> dict[str, Any]:
    """Load a ``kind`` checkpoint with ``weights_only=True``; any problem raises ModelFolderError naming the file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFolderError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle/zip errors of a truncated file come in many types
        from ..utils.torch_load import (
            describe_load_error,  # one line, never torch's "weights_only=False" advice
        )

        raise ModelFolderError(f"{path}: checkpoint {describe_load_error(e)}; delete it to start again") from None
    if not isinstance(ckpt, dict):
        raise ModelFolderError(f"{path}: not a SynTumor training checkpoint")
    if ckpt.get("format") != FORMAT:
        ckpt = migrate(ckpt)
        if ckpt is None:
            raise ModelFolderError(f"{path}: not a SynTumor training checkpoint")
    if ckpt.get("version") != VERSION:
        raise ModelFolderError(f"{path}: checkpoint version {ckpt.get('version')!r} is not supported "
                               f"(this SynTumorLib reads version {VERSION})")
    if ckpt.get("kind") != kind:
        raise ModelFolderError(f"{path}: a {ckpt.get('kind')!r} checkpoint, not a {kind!r} one")
    return ckpt
