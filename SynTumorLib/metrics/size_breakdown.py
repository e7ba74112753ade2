"""Which size class a *real* (reference) tumour belongs to — the bins results are broken down by.

A lesion's size is its **equivalent radius** r = (3V / 4π)^(1/3) (the radius of the sphere of the
same volume). Bins are half-open radius intervals ``[cut[i-1], cut[i])``; the first starts at 0,
the last is open-ended. Sources:

* a size-class set (preset name ``"syntumor"`` / ``"difftumor"``, a JSON file written by
  ``syntumor sizes analyze`` or a :class:`~SynTumorLib.geometry.sizes.SizeClassSet`): the cuts are
  the midpoints between consecutive nominal class radii, so every class owns the radii nearer to
  its own nominal radius than to its neighbours';
* a list of ascending cut radii in mm, e.g. the equivalent radii of the quartiles of the real
  tumour volumes (the paper's definition): 3 cuts give ``tiny``/``small``/``medium``/``large``,
  other counts give ``size0``, ``size1``, ….

Example:
    >>> b = SizeBins.resolve([5.0, 9.0, 14.0])
    >>> b.names, b.classify(4.0), b.classify(9.0), b.classify(30.0)
    (['tiny', 'small', 'medium', 'large'], 'tiny', 'medium', 'large')
    >>> SizeBins.resolve("syntumor").cuts_mm
    [7.0, 9.0, 12.5]
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..utils.errors import InputError

CLASS_NAMES_4 = ("tiny", "small", "medium", "large")


@dataclass(frozen=True)
class SizeBins:
    """Named radius bins; ``len(names) == len(cuts_mm) + 1``."""

    names: list[str]
    cuts_mm: list[float]
    source: str

    def __post_init__(self) -> None:
        if len(self.names) != len(self.cuts_mm) + 1:
            raise InputError(f"size bins: {len(self.names)} names need {len(self.names) - 1} cuts, got {len(self.cuts_mm)}")
        if any(not math.isfinite(c) or c <= 0 for c in self.cuts_mm) or list(self.cuts_mm) != sorted(set(self.cuts_mm)):
            raise InputError(f"size-class cut radii must be positive, finite and strictly ascending, got {self.cuts_mm}")

    def classify(self, radius_mm: float) -> str:
        """The bin of an equivalent radius in mm."""
        return self.names[bisect.bisect_right(self.cuts_mm, float(radius_mm))]

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "cuts_mm": list(self.cuts_mm), "source": self.source,
                "rule": "equivalent radius r=(3V/4π)^(1/3) in [cut[i-1], cut[i])"}

    @classmethod
    def resolve(cls, size_classes: Any = None) -> SizeBins:
        """From None (the ``syntumor`` preset), a preset name, a JSON path, a SizeClassSet, a dict
        (``{"names": [...], "cuts_mm": [...]}`` as :meth:`to_dict` writes, or a size-class set) or a
        list of cut radii in mm."""
        if isinstance(size_classes, SizeBins):
            return size_classes
        if size_classes is None:
            size_classes = "syntumor"
        if isinstance(size_classes, dict) and "cuts_mm" in size_classes:
            return cls(list(size_classes["names"]), [float(c) for c in size_classes["cuts_mm"]],
                       str(size_classes.get("source", "custom")))
        if isinstance(size_classes, Sequence) and not isinstance(size_classes, (str, bytes)):
            try:
                cuts = [float(c) for c in size_classes]
            except (TypeError, ValueError):
                raise InputError(f"size-class cut radii must be numbers, got {list(size_classes)}") from None
            if not cuts:
                raise InputError("give at least one size-class cut radius")
            names = list(CLASS_NAMES_4) if len(cuts) == 3 else [f"size{i}" for i in range(len(cuts) + 1)]
            return cls(names, cuts, "cut radii")
        from ..geometry.sizes import load_size_classes

        if isinstance(size_classes, os.PathLike):
            size_classes = str(size_classes)
        scs = load_size_classes(size_classes)
        ordered = sorted(scs, key=lambda c: c.radius_mm)
        if len(ordered) < 2:
            raise InputError(f"size classes {scs.name!r}: need at least two classes to break results down")
        cuts = [(a.radius_mm + b.radius_mm) / 2.0 for a, b in itertools.pairwise(ordered)]
        return cls([c.name for c in ordered], cuts, f"size classes {scs.name!r} (midpoints of nominal radii)")


# TextoMorph's tumour-size bins by diameter — < 2 cm, 2–5 cm, > 5 cm — as cuts of the equivalent
# radius (diameter = 2r of the sphere of the same volume, the size every SynTumor breakdown uses;
# not the longest axial diameter of RECIST)
DIAMETER_BINS = SizeBins(["< 2 cm", "2–5 cm", "> 5 cm"], [10.0, 25.0], "equivalent diameter (TextoMorph's bins)")
