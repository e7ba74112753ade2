"""Training checkpoints: plain tensors and containers saved with ``torch.save`` and read back with
``torch.load(weights_only=True)`` — nothing arbitrary is ever unpickled, so a checkpoint from
elsewhere cannot run code on load.

A checkpoint holds the step, the model/optimiser/GradScaler state dicts, the best validation score
so far, and the RNG states of torch, numpy and Python (the crop sampler is stateless: its state is
the step). Writes are atomic: a kill during a save leaves the previous checkpoint intact.

Example:
    >>> import torch, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "last.pt"
    >>> save_checkpoint(p, {"step": 3, "model": {"w": torch.ones(2)}})
    >>> load_checkpoint(p)["step"]
    3
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from ..utils.atomic import atomic_path
from ..utils.errors import ModelFolderError

FORMAT = "syntumor-checkpoint/1"


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
    import torch

    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Atomically ``torch.save`` a dict of tensors and plain containers."""
    import torch

    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint with ``weights_only=True``; a corrupt file raises ModelFolderError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFolderError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle/zip errors of a truncated file come in many types
        raise ModelFolderError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {str(e)[:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ModelFolderError(f"{path}: not a SynTumor training checkpoint")
    return ckpt
