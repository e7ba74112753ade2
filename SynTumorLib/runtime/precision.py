"""AMP and ``torch.compile``: CUDA-only speed switches, each with its CPU fallback.

* AMP mode ``none | fp16 | bf16`` (``true``/``false`` in the texture configs mean ``fp16``/``none``).
  On the CPU any mode falls back to float32 — the arithmetic a CPU run has always used, so CPU
  results stay bit-identical whatever the config says; fp16 gets a ``GradScaler``, the others a
  disabled one.
* ``compile``: ``torch.compile`` on CUDA; on the CPU the model runs eagerly.

A fallback is logged once per run; :func:`amp_mode` warns (``RuntimeWarning``) only when asked to,
for options the user set on purpose (the segmenter's ``amp``/``compile`` keys default to off, the
texture configs' ``amp`` defaults to on, where a warning on every CPU run would be noise).

Example:
    >>> import torch
    >>> amp_mode("fp16", torch.device("cpu"))
    'none'
    >>> amp_mode(True, torch.device("cuda"))
    'fp16'
    >>> with autocast("none", torch.device("cpu")):
    ...     torch.ones(2).dtype
    torch.float32
"""

from __future__ import annotations

import logging
import warnings
from contextlib import nullcontext
from typing import Any

from ..utils.errors import InputError

log = logging.getLogger(__name__)
AMP_MODES = ("none", "fp16", "bf16")


def check_amp(value: Any, where: str = "amp") -> str:
    """Normalise an AMP setting (a mode or a boolean) to one of :data:`AMP_MODES`."""
    if isinstance(value, bool):
        return "fp16" if value else "none"
    if value not in AMP_MODES:
        raise InputError(f"'{where}' must be one of {', '.join(AMP_MODES)} (or true/false), got {value!r}")
    return value


def amp_mode(requested: Any, device, warn: bool = False) -> str:
    """The AMP mode a run on ``device`` uses: the requested one on CUDA, ``none`` elsewhere."""
    mode = check_amp(requested)
    if mode != "none" and device.type != "cuda":
        msg = f"amp '{mode}' is a CUDA-only option: ignored on the {device.type.upper()} (float32)"
        if warn:
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        log.debug(msg)  # a config default (texture configs say amp: true) is no news on a CPU run
        return "none"
    return mode


def autocast(mode: str, device):
    """The autocast context of an AMP mode (a no-op for ``none``)."""
    import torch

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mode)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(mode: str, device):
    """A ``GradScaler``, enabled only for fp16 on CUDA (bf16 and float32 need no loss scaling)."""
    import torch

    return torch.amp.GradScaler("cuda", enabled=(mode == "fp16" and device.type == "cuda"))


def compile_enabled(requested: bool, device, warn: bool = False) -> bool:
    """Whether ``torch.compile`` is used: only on CUDA; the CPU runs eagerly (logged / warned)."""
    if requested and device.type != "cuda":
        msg = f"compile is a CUDA-only option: ignored on the {device.type.upper()}"
        if warn:
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        log.debug(msg)
        return False
    return bool(requested)


def maybe_compile(model, enabled: bool):
    """``torch.compile(model)`` when ``enabled`` (see :func:`compile_enabled`), else the model."""
    if not enabled:
        return model
    import torch

    return torch.compile(model)
