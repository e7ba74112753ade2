"""Seeds. Every random operation takes an explicit integer seed and records it, so any synthetic
case can be replayed bit-for-bit. Child seeds are derived with ``numpy.random.SeedSequence`` so
that, e.g., tumour 2 of case 7 does not depend on how many draws tumour 1 used.
"""

from __future__ import annotations

import numpy as np


def child_seed(seed: int, *keys: int | str) -> int:
    """A deterministic 32-bit seed derived from ``seed`` and any number of keys."""
    ints = []
    for k in keys:
        if isinstance(k, str):
            ints.extend(k.encode("utf-8"))
        else:
            ints.append(int(k))
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *ints])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def fresh_seed() -> int:
    """A new random seed (used when the user gives none; it is recorded like any other)."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
