"""The CPU thread policy: how many intra-op threads torch uses for SynTumor's CPU work.

``SYNTUMOR_CPU_THREADS`` (a positive integer) wins everywhere it applies — segmenter training, the
texture trainers and sampling in the demo, the nnU-Net child process. Anything else in it
(``many``, ``0``, ``-2``) is an error naming the variable, in every command.

Without it each caller passes its own default: small steps (the tiny and smoke networks) run on
**one** thread, because their convolutions are too small to split and OpenMP's spin-waiting made a
2-thread step cost 5–12× the CPU time of a 1-thread step on a shared 2-core machine (0.16 s vs
0.7–1.9 s CPU per 2×48³ U-Net step; one 20-step texture sampling 0.4 s on one thread, 7–12 s on
two). Larger steps keep torch's setting, divided among DDP processes on the machine.

Example:
    >>> import os
    >>> os.environ["SYNTUMOR_CPU_THREADS"] = "3"
    >>> cpu_threads(default=1)
    3
    >>> os.environ["SYNTUMOR_CPU_THREADS"] = "many"
    >>> cpu_threads(default=1)
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: SYNTUMOR_CPU_THREADS must be a positive integer, got 'many'
    >>> del os.environ["SYNTUMOR_CPU_THREADS"]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..utils.errors import InputError

ENV = "SYNTUMOR_CPU_THREADS"
SMALL_STEP_VOXELS = 2 * 64**3


def env_threads() -> int | None:
    """The thread count ``SYNTUMOR_CPU_THREADS`` asks for, None when it is unset or empty."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise InputError(f"{ENV} must be a positive integer, got {text!r}")
    return n


def cpu_threads(default: int) -> int:
    """``SYNTUMOR_CPU_THREADS`` when set, else ``default`` (at least 1)."""
    n = env_threads()
    return n if n is not None else max(1, int(default))


def step_threads(step_voxels: int, world_size: int = 1, current: int | None = None) -> int:
    """The default for a training step of ``step_voxels`` (batch × crop voxels), see the module doc."""
    import torch

    if step_voxels <= SMALL_STEP_VOXELS:
        return 1
    current = current or torch.get_num_threads()
    return max(1, current // max(1, world_size))


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (None: unchanged), then restore the caller's."""
    import torch

    before = torch.get_num_threads()
    try:
        if n is not None:
            torch.set_num_threads(max(1, int(n)))
        yield
    finally:
        torch.set_num_threads(before)
