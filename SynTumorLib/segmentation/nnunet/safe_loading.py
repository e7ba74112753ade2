"""nnU-Net's files without unpickling arbitrary objects: its checkpoints and its case pickles.

nnU-Net v2 loads its ``.pth`` checkpoints with ``torch.load(weights_only=False)``: a crafted
``checkpoint_final.pth`` (predict) or ``checkpoint_latest.pth`` (resumed training) runs code the
moment it is loaded. No checkpoint reaches nnU-Net's own loader here:

* :func:`load_nnunet_checkpoint` reads one with ``weights_only=True`` and an allowlist of the only
  non-tensor types a real nnU-Net checkpoint holds (numpy scalars and their dtypes, in its
  training log), so a file holding anything else is refused with one line naming it;
* the parent (:mod:`.api`) checks every checkpoint this way before it starts nnU-Net;
* the nnU-Net child (:mod:`.run`) builds the predictor from weights loaded here
  (``manual_initialization``, not ``initialize_from_trained_model_folder``), and
  :func:`install_safe_torch_load` makes every other ``torch.load`` in that process — the trainer's
  resume, its final validation — take the same safe path whatever ``weights_only`` it asks for;
* nnU-Net's preprocessed cases carry a ``.pkl`` of properties (spacing, crop box, class locations)
  read with plain ``pickle.load`` when training: :func:`install_safe_pickle_loading` makes that a
  restricted unpickler that builds only numpy arrays, scalars and dtypes besides plain containers.

Example:
    >>> import tempfile, os, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "checkpoint_final.pth")
    >>> torch.save({"network_weights": {"w": torch.ones(1)}, "trainer_name": "nnUNetTrainer",
    ...             "init_args": {"configuration": "3d_fullres"}}, p)
    >>> sorted(load_nnunet_checkpoint(p))
    ['init_args', 'network_weights', 'trainer_name']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...utils.errors import ModelFolderError
from ...utils.torch_load import describe_load_error


def safe_globals() -> list:
    """The non-tensor types of a genuine nnU-Net checkpoint: numpy scalars (``np.float32`` losses and
    Dice values in its log), arrays of numbers, and their dtypes. No callable that runs code."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1
    multiarray = core.multiarray
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")
              and any(k in n for k in ("Float", "Int", "Bool", "Complex"))] if hasattr(np, "dtypes") else []
    return [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype, *dtypes]


def load_nnunet_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load an nnU-Net checkpoint with ``weights_only=True`` (see the module doc).

    Raises:
        ModelFolderError: missing, corrupt, holding objects outside the allowlist, or not an nnU-Net
            checkpoint (no ``network_weights`` of tensors).
    """
    import torch

    _remember_original()
    path = Path(path)
    if not path.is_file():
        raise ModelFolderError(f"{path}: checkpoint not found")
    try:
        with torch.serialization.safe_globals(safe_globals()):
            ckpt = _ORIGINAL_LOAD[0](path, map_location=map_location, weights_only=True)
    except Exception as e:  # pickle, zip and torch errors of refused or damaged files come in many types
        raise ModelFolderError(f"{path}: {describe_load_error(e)}") from None
    weights = ckpt.get("network_weights") if isinstance(ckpt, dict) else None
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise ModelFolderError(f"{path}: not an nnU-Net checkpoint (no network_weights of tensors)")
    return ckpt


def check_nnunet_checkpoint(path: str | os.PathLike) -> None:
    """Refuse a checkpoint nnU-Net would have to unpickle unsafely; also check what predict reads."""
    ckpt = load_nnunet_checkpoint(path)
    init = ckpt.get("init_args")
    if not isinstance(ckpt.get("trainer_name"), str) or not isinstance(init, dict) or \
            not isinstance(init.get("configuration"), str):
        raise ModelFolderError(f"{path}: not an nnU-Net checkpoint (no trainer_name / init_args.configuration)")


_ORIGINAL_LOAD: list = []


def _remember_original() -> None:
    if not _ORIGINAL_LOAD:
        import torch

        _ORIGINAL_LOAD.append(torch.load)


def install_safe_torch_load() -> None:
    """Route every ``torch.load`` of this process through :func:`load_nnunet_checkpoint`'s safe path.

    For the nnU-Net child process only (it runs nothing but nnU-Net): nnU-Net's trainer and helpers
    call ``torch.load(..., weights_only=False)``; afterwards they get ``weights_only=True`` with the
    allowlist, and a refused file raises :class:`ModelFolderError`.
    """
    import torch

    _remember_original()
    if getattr(torch.load, "_syntumor_safe", False):
        return
    original = _ORIGINAL_LOAD[0]

    def safe_load(f, map_location=None, *args, weights_only=None, **kwargs):
        kwargs.pop("pickle_module", None)
        try:
            with torch.serialization.safe_globals(safe_globals()):
                return original(f, map_location=map_location, weights_only=True, **kwargs)
        except Exception as e:
            raise ModelFolderError(f"{f}: {describe_load_error(e)}") from None

    safe_load._syntumor_safe = True  # type: ignore[attr-defined]
    torch.load = safe_load


# What nnU-Net's properties pickles hold besides plain containers: numpy arrays (class locations),
# their dtypes and numpy scalars. Both module spellings: numpy 2 writes numpy._core, numpy 1 numpy.core.
_PICKLE_GLOBALS = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")} \
    | {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")}


def safe_load_pickle(file: str | os.PathLike, mode: str = "rb"):
    """``batchgenerators``' ``load_pickle`` with a restricted unpickler (see the module doc).

    Raises:
        ModelFolderError: the file references anything else (it would run code), or is damaged.
    """
    import pickle

    class Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            if (module, name) in _PICKLE_GLOBALS:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"unsupported GLOBAL {module}.{name}")

    try:
        with open(file, "rb") as f:
            return Restricted(f).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as e:
        raise ModelFolderError(f"{file}: {describe_load_error(e)}") from None


def install_safe_pickle_loading() -> None:
    """Replace ``batchgenerators``' ``load_pickle`` (which nnU-Net imports by name) with
    :func:`safe_load_pickle` — before nnU-Net is imported, and in modules that already hold it."""
    import sys

    import batchgenerators.utilities.file_and_folder_operations as ffo

    ffo.load_pickle = safe_load_pickle
    for name, mod in list(sys.modules.items()):
        if name.startswith("nnunetv2") and getattr(mod, "load_pickle", None) is not None:
            mod.load_pickle = safe_load_pickle
