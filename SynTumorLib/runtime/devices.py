"""Device choice — one rule for every command and library function that takes ``device``:

* ``auto`` (or nothing): the first CUDA GPU when torch sees one, else the CPU;
* ``cpu``: the CPU;
* ``cuda`` / ``cuda:N``: that GPU. **No usable GPU is an error**, never a silent or warned fallback:
  a job that asked for a GPU and would run for days on the CPU should stop at once and say why;
  ``cuda:N`` beyond the visible GPUs is an error too.

Under ``torchrun`` on GPUs each process uses GPU ``LOCAL_RANK`` (see :mod:`.distributed`).

Example:
    >>> check_device_name("CUDA:1")
    'cuda:1'
    >>> resolve_device("cpu").type
    'cpu'
    >>> check_device_name("gpu")
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: device must be auto, cpu, cuda or cuda:N, got 'gpu'
"""

from __future__ import annotations

import re
from typing import Any

from ..utils.errors import InputError

DEVICE_HELP = "auto (a GPU when torch sees one, else the CPU), cpu, cuda or cuda:N (no GPU: an error)"
_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device_name(name: Any, where: str = "") -> str:
    """The normalised device name (``auto``, ``cpu``, ``cuda``, ``cuda:N``); no torch needed (configs)."""
    text = "auto" if name is None or name == "" else str(name).strip().lower()
    if not _PATTERN.fullmatch(text):
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return text


def resolve_device(name: Any = "auto"):
    """Turn a device name (or a ``torch.device``) into a ``torch.device`` by the module's rule."""
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    text = check_device_name(name)
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError(f"device '{text}' was requested but torch sees no CUDA GPU (no GPU, or a CPU-only torch); "
                         "use device cpu or auto")
    dev = torch.device(text)
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(f"device '{text}': only {torch.cuda.device_count()} GPU(s) visible")
    return dev


def device_name(name: Any = "auto") -> str:
    """What :func:`resolve_device` picks, as text (``cpu``, ``cuda``, ``cuda:1``) — for child processes."""
    return str(resolve_device(name))
