"""Device choice: ``auto`` picks CUDA when available, else the CPU. ``cuda`` asked for on a machine
without a usable GPU **falls back to the CPU with a warning** (a batch job then still finishes,
slowly, rather than failing after hours of queueing); the warning names the reason.

Example:
    >>> resolve_device("cpu").type
    'cpu'
"""

from __future__ import annotations

import logging
import warnings

from ..utils.errors import InputError

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto"):
    """Turn ``auto | cpu | cuda | cuda:N`` into a ``torch.device`` (CUDA falls back to CPU with a warning)."""
    import torch

    name = str(name or "auto").lower()
    if name == "cpu":
        return torch.device("cpu")
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            msg = f"device '{name}' requested but CUDA is not available (no GPU or a CPU-only torch): using the CPU"
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            log.warning(msg)
            return torch.device("cpu")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device '{name}': only {torch.cuda.device_count()} GPU(s) visible")
        return dev
    raise InputError(f"device must be auto, cpu, cuda or cuda:N, got '{name}'")
