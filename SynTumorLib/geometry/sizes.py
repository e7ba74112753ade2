"""Tumour size classes in millimetres — the study's hypothesis 1.

A size class says how large the synthetic tumours of one arm are. Each class has a nominal radius
``r_sel``, a semi-axis range (Eq. 1 of the paper: ``r_x, r_y, r_z ~ U(r_sel − Δ, r_sel + Δ)``; the
reference code uses asymmetric integer ranges, so we store the range itself), an elastic boundary σ
range and a tumour-count range. All lengths are **millimetres in physical space**; the reference
code's radii are voxels of 1 mm crops, so its numbers carry over unchanged (DESIGN.md table).

Sources of classes (:func:`load_size_classes`):

* presets ``"syntumor"`` (6/8/10/15 mm) and ``"difftumor"`` (4/8/16/32 mm);
* a JSON file or dict ``{"name": ..., "classes": {"tiny": {"radius_mm": 6, "range_mm": [4, 7],
  "sigma_mm": [0.5, 1.0], "count": [1, 3]}, ...}, "probabilities": {...}}`` — what
  ``syntumor sizes analyze`` writes (``delta_mm`` may replace ``range_mm``);
* ``"mixed"`` is not a class but a draw over the classes with the set's ``probabilities``.

Example:
    >>> s = load_size_classes("syntumor")
    >>> s["large"].range_mm, s["large"].sigma_mm
    ((11.0, 30.0), (5.0, 10.0))
    >>> import numpy as np
    >>> s.pick("mixed", np.random.default_rng(0)).name in s.names
    True
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.labels import equivalent_radius_mm  # noqa: F401 - the one definition, re-exported for size code
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from ..utils.limits import MAX_LENGTH_MM, MAX_TUMOURS

CLASS_ORDER = ("tiny", "small", "medium", "large")


@dataclass(frozen=True)
class SizeClass:
    """One size class. Lengths in mm.

    Args:
        name: class name.
        radius_mm: nominal radius ``r_sel``.
        range_mm: (lo, hi) range each semi-axis is drawn from.
        sigma_mm: (lo, hi) range of the elastic boundary σ.
        count: (lo, hi) number of tumours per case/crop (inclusive).
    """

    name: str
    radius_mm: float
    range_mm: tuple[float, float]
    sigma_mm: tuple[float, float] = (1.0, 2.0)
    count: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        # upper bounds too: a 1e9 mm radius or a million tumours must fail here, not hang an insertion
        cap = f"≤ {MAX_LENGTH_MM:g} mm"
        lo, hi = (float(x) for x in self.range_mm)
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or hi < lo or hi > MAX_LENGTH_MM:
            raise InputError(f"size class {self.name!r}: range_mm must be 0 < lo ≤ hi {cap}, got {list(self.range_mm)}")
        if not (0 < self.radius_mm <= MAX_LENGTH_MM):
            raise InputError(f"size class {self.name!r}: radius_mm must be > 0 and {cap}, got {self.radius_mm}")
        slo, shi = (float(x) for x in self.sigma_mm)
        if not (0 <= slo <= shi <= MAX_LENGTH_MM):
            raise InputError(f"size class {self.name!r}: sigma_mm must be 0 ≤ lo ≤ hi {cap}, got {list(self.sigma_mm)}")
        clo, chi = (int(x) for x in self.count)
        if clo < 1 or chi < clo or chi > MAX_TUMOURS:
            raise InputError(f"size class {self.name!r}: count must be 1 ≤ lo ≤ hi ≤ {MAX_TUMOURS}, got {list(self.count)}")
        object.__setattr__(self, "range_mm", (lo, hi))
        object.__setattr__(self, "sigma_mm", (slo, shi))
        object.__setattr__(self, "count", (clo, chi))
        object.__setattr__(self, "radius_mm", float(self.radius_mm))

    @property
    def delta_mm(self) -> float:
        """Half-width of the semi-axis range (Δ of Eq. 1 for a symmetric range)."""
        return (self.range_mm[1] - self.range_mm[0]) / 2.0

    @property
    def nominal_volume_mm3(self) -> float:
        """Volume of the class's nominal sphere, 4/3·π·r_sel³ (what the class promises; DESIGN.md)."""
        return 4.0 / 3.0 * math.pi * self.radius_mm**3

    def to_dict(self) -> dict:
        return {
            "radius_mm": self.radius_mm,
            "range_mm": list(self.range_mm),
            "sigma_mm": list(self.sigma_mm),
            "count": list(self.count),
        }

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> SizeClass:
        if not isinstance(d, Mapping):
            raise InputError(f"size class {name!r}: expected an object, got {type(d).__name__}")
        unknown = set(d) - {"radius_mm", "range_mm", "delta_mm", "sigma_mm", "count"}
        if unknown:
            raise InputError(f"size class {name!r}: unknown keys {sorted(unknown)}")
        try:
            r = float(d["radius_mm"])
            if "range_mm" in d:
                rng = tuple(float(x) for x in d["range_mm"])
            elif "delta_mm" in d:
                rng = (r - float(d["delta_mm"]), r + float(d["delta_mm"]))
            else:
                rng = (r, r)
            if len(rng) != 2:
                raise InputError(f"size class {name!r}: range_mm needs two numbers")
            sigma = tuple(float(x) for x in d.get("sigma_mm", (1.0, 2.0)))
            count = tuple(int(x) for x in d.get("count", (1, 1)))
        except KeyError as e:
            raise InputError(f"size class {name!r}: missing key {e}") from None
        except (TypeError, ValueError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(f"size class {name!r}: bad value ({e})") from None
        return cls(name, r, rng, sigma, count)  # type: ignore[arg-type]


# DESIGN.md reference table: radii are voxels of 1 mm crops in the reference → mm here.
_PRESETS: dict[str, dict[str, Any]] = {
    "syntumor": {
        "tiny": {"radius_mm": 6, "range_mm": [4, 7], "sigma_mm": [0.5, 1.0], "count": [1, 3]},
        "small": {"radius_mm": 8, "range_mm": [6, 10], "sigma_mm": [1.0, 2.0], "count": [1, 3]},
        "medium": {"radius_mm": 10, "range_mm": [7, 12], "sigma_mm": [3.0, 6.0], "count": [1, 1]},
        "large": {"radius_mm": 15, "range_mm": [11, 30], "sigma_mm": [5.0, 10.0], "count": [1, 1]},
    },
    "difftumor": {
        "tiny": {"radius_mm": 4, "range_mm": [3, 5], "sigma_mm": [0.5, 1.0], "count": [1, 3]},
        "small": {"radius_mm": 8, "range_mm": [6, 10], "sigma_mm": [1.0, 2.0], "count": [1, 3]},
        "medium": {"radius_mm": 16, "range_mm": [12, 20], "sigma_mm": [3.0, 6.0], "count": [1, 1]},
        "large": {"radius_mm": 32, "range_mm": [24, 64], "sigma_mm": [5.0, 10.0], "count": [1, 1]},
    },
}
PRESETS = tuple(_PRESETS)


@dataclass(frozen=True)
class SizeClassSet:
    """Named size classes plus the probabilities ``mixed`` draws them with."""

    name: str
    classes: dict[str, SizeClass]
    probabilities: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.classes:
            raise InputError(f"size-class set {self.name!r} has no classes")
        if "mixed" in self.classes:
            raise InputError("'mixed' is reserved (a draw over the classes); rename that class")
        probs = dict(self.probabilities) or {n: 1.0 for n in self.classes}
        unknown = set(probs) - set(self.classes)
        if unknown:
            raise InputError(f"probabilities name unknown classes {sorted(unknown)}; classes are {self.names}")
        if any((not math.isfinite(p)) or p < 0 for p in probs.values()) or sum(probs.values()) <= 0:
            raise InputError(f"class probabilities must be ≥ 0 and not all 0, got {probs}")
        total = sum(probs.values())
        object.__setattr__(self, "probabilities", {n: float(probs.get(n, 0.0)) / total for n in self.classes})

    @property
    def names(self) -> list[str]:
        return list(self.classes)

    def __getitem__(self, name: str) -> SizeClass:
        if name not in self.classes:
            extra = " or 'mixed'" if self.classes else ""
            raise InputError(f"unknown size class {name!r}; {self.name!r} has {', '.join(self.names)}{extra}")
        return self.classes[name]

    def __iter__(self):
        return iter(self.classes.values())

    def with_probabilities(self, probabilities: Mapping[str, float] | None) -> SizeClassSet:
        return self if not probabilities else SizeClassSet(self.name, dict(self.classes), dict(probabilities))

    def pick(self, name: str, rng: np.random.Generator) -> SizeClass:
        """The class ``name``, or a draw with the set's probabilities when ``name == "mixed"``."""
        if name != "mixed":
            return self[name]
        names = self.names
        p = np.asarray([self.probabilities[n] for n in names])
        return self.classes[names[int(rng.choice(len(names), p=p))]]

    def fitting(self, max_radius_mm: float) -> list[str]:
        """Classes whose smallest semi-axis is at most ``max_radius_mm`` (used in 'does not fit' errors)."""
        return [c.name for c in self if c.range_mm[0] <= max_radius_mm]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "units": "mm",
            "classes": {n: c.to_dict() for n, c in self.classes.items()},
            "probabilities": dict(self.probabilities),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], default_name: str = "custom") -> SizeClassSet:
        if not isinstance(d, Mapping) or not isinstance(d.get("classes"), Mapping):
            raise InputError("a size-class set needs a 'classes' object mapping names to classes")
        classes = {str(n): SizeClass.from_dict(str(n), c) for n, c in d["classes"].items()}
        return cls(str(d.get("name", default_name)), classes, dict(d.get("probabilities") or {}))

    def table(self) -> str:
        """A Markdown table of the classes."""
        rows = ["| class | r (mm) | semi-axis range (mm) | elastic σ (mm) | count | p (mixed) | nominal mL |",
                "|---|---|---|---|---|---|---|"]
        for c in self:
            rows.append(
                f"| {c.name} | {c.radius_mm:.3g} | {c.range_mm[0]:.3g}–{c.range_mm[1]:.3g} | "
                f"{c.sigma_mm[0]:.3g}–{c.sigma_mm[1]:.3g} | {c.count[0]}–{c.count[1]} | "
                f"{self.probabilities[c.name]:.2f} | {c.nominal_volume_mm3 / 1000:.2f} |"
            )
        return "\n".join(rows)


def load_size_classes(
    source: str | os.PathLike | Mapping[str, Any] | SizeClassSet = "syntumor",
    probabilities: Mapping[str, float] | None = None,
) -> SizeClassSet:
    """Resolve a preset name, a JSON file path, a dict or a :class:`SizeClassSet`.

    Raises:
        InputError: unknown preset, missing/invalid JSON, invalid class values.
    """
    if isinstance(source, SizeClassSet):
        out = source
    elif isinstance(source, Mapping):
        out = SizeClassSet.from_dict(source)
    else:
        s = str(source)
        if s in _PRESETS:
            out = SizeClassSet.from_dict({"name": s, "classes": _PRESETS[s]})
        elif s.lower().endswith(".json") or Path(s).is_file():
            d = read_json(s)
            try:
                out = SizeClassSet.from_dict(d, default_name=Path(s).stem)
            except InputError as e:
                raise InputError(f"{s}: {e}") from None
        else:
            raise InputError(f"unknown size classes {s!r}; use one of {', '.join(PRESETS)} or a JSON file")
    return out.with_probabilities(probabilities)


def arm_classes(arm: str, size_classes: str | dict = "syntumor") -> tuple[str, str | dict]:
    """(size class, class set) a training arm draws from: a named arm is a class of ``size_classes``;
    an arm that is itself a size-class JSON means the mix of that file's classes.

    >>> arm_classes("large"), arm_classes("q.json", "syntumor")
    (('large', 'syntumor'), ('mixed', 'q.json'))
    """
    return ("mixed", arm) if str(arm).endswith(".json") else (arm, size_classes)
