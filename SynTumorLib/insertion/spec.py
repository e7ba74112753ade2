"""What to insert: :class:`InsertionSpec`, a plain dataclass that round-trips through JSON.

Example:
    >>> s = InsertionSpec(size_class="small", count=2, min_inside=0.8)
    >>> InsertionSpec.from_dict(s.to_dict()) == s
    True
    >>> InsertionSpec.coerce({"size_class": "large", "at_ras": [[1, 2, 3]]}).placement_mode
    'point'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..geometry.shapes import check_semi_axes
from ..geometry.sizes import SizeClassSet, load_size_classes
from ..utils.config import check_keys
from ..utils.errors import InputError
from ..utils.limits import MAX_ATTEMPTS, MAX_TUMOURS, check_count, check_length_mm, extent_mm

PLACEMENTS = ("auto", "random", "point", "reference")
ELASTIC_MODES = ("independent", "pairs")


@dataclass
class InsertionSpec:
    """Parameters of one insertion (all lengths in mm).

    Args:
        size_class: a class name of ``classes`` or ``"mixed"`` (draw with ``probabilities``).
        classes: preset ``"syntumor"`` / ``"difftumor"``, a size-class JSON path or its dict.
        probabilities: class → weight for ``mixed`` (default: the set's own, else uniform).
        radii_mm: explicit semi-axes (x, y, z) in mm; replaces the class's draw (σ and count still
            come from the class).
        sigma_mm: explicit elastic σ in mm (default: drawn from the class's σ range).
        count: number of tumours (default: drawn from the class's count range; ``len(at_ras)``
            in point mode).
        at_ras: one RAS point (mm) per tumour — the tumour's centre of mass lands there.
        placement: ``auto`` (point when ``at_ras`` is given, else random), ``random``, ``point`` or
            ``reference`` (the reference code's rule, clipped to the organ — for replication).
        min_inside: minimum fraction of each tumour inside the host region (organ + bulge).
        bulge_mm: how far a tumour may bulge beyond the organ into fat/soft tissue; ``None`` = half
            the class radius; 0 = the tumour must lie (min_inside) in the organ itself.
        tissue_hu: HU window of tissue a tumour may extend into outside the organ: below it is
            air/gas, above it bone and contrast-filled vessels.
        random_orientation: rotate each ellipsoid uniformly (else axes along i, j, k).
        elastic_mode: ``independent`` (3-D field) or ``pairs`` (the reference's three 2-D passes).
        organ_value: label value of the organ in the label map (1 canonical, 7 TotalSegmentator).
        max_attempts: shape draws tried per tumour before failing with a clear error.
    """

    size_class: str = "medium"
    classes: str | dict = "syntumor"
    probabilities: dict | None = None
    radii_mm: tuple[float, float, float] | None = None
    sigma_mm: float | None = None
    count: int | None = None
    at_ras: list[tuple[float, float, float]] | None = None
    placement: str = "auto"
    min_inside: float = 0.9
    bulge_mm: float | None = None
    tissue_hu: tuple[float, float] = (-300.0, 150.0)
    random_orientation: bool = True
    elastic_mode: str = "independent"
    organ_value: int = 1
    max_attempts: int = 100
    _sizes: SizeClassSet | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.size_class = str(self.size_class)
        if self.placement not in PLACEMENTS:
            raise InputError(f"unknown placement {self.placement!r}; use one of {', '.join(PLACEMENTS)}")
        if self.elastic_mode not in ELASTIC_MODES:
            raise InputError(f"unknown elastic mode {self.elastic_mode!r}; use one of {', '.join(ELASTIC_MODES)}")
        if not (isinstance(self.min_inside, (int, float)) and 0 < self.min_inside <= 1):
            raise InputError(f"min_inside must be in (0, 1], got {self.min_inside!r}")
        self.min_inside = float(self.min_inside)
        if self.radii_mm is not None:
            self.radii_mm = check_semi_axes(self.radii_mm, "radii_mm")
        if self.sigma_mm is not None:
            self.sigma_mm = check_length_mm(self.sigma_mm, "sigma_mm")
        if self.bulge_mm is not None:
            self.bulge_mm = check_length_mm(self.bulge_mm, "bulge_mm")
        lo, hi = (float(x) for x in self.tissue_hu)
        if hi <= lo:
            raise InputError(f"tissue_hu must be (low, high) with low < high, got {list(self.tissue_hu)}")
        self.tissue_hu = (lo, hi)
        if self.at_ras is not None:
            pts = []
            for p in self.at_ras:
                try:
                    q = tuple(float(x) for x in p)
                except (TypeError, ValueError):
                    raise InputError(f"at_ras: expected points (x, y, z) in mm, got {p!r}") from None
                if len(q) != 3 or not all(math.isfinite(x) for x in q):
                    raise InputError(f"at_ras: a point needs three finite coordinates, got {p!r}")
                pts.append(q)
            if not pts:
                raise InputError("at_ras is empty; give at least one point or leave it out")
            if len(pts) > MAX_TUMOURS:
                raise InputError(f"at_ras: {len(pts)} points, more than the {MAX_TUMOURS} tumours one insertion may hold")
            self.at_ras = pts
            if self.count is not None and int(self.count) != len(pts):
                raise InputError(f"count={self.count} but {len(pts)} points given in at_ras")
        if self.placement == "point" and self.at_ras is None:
            raise InputError("placement 'point' needs at_ras (one RAS point per tumour)")
        if self.placement in ("random", "reference") and self.at_ras is not None:
            raise InputError(f"placement {self.placement!r} does not take at_ras points")
        if self.count is not None:
            self.count = check_count(self.count, "count", 1, MAX_TUMOURS)
        self.max_attempts = check_count(self.max_attempts, "max_attempts", 1, MAX_ATTEMPTS)
        self.organ_value = int(self.organ_value)
        if not 0 < self.organ_value < 65536:
            raise InputError(f"organ_value must be a positive label value, got {self.organ_value}")
        # resolve the classes now so that a bad name fails here, not in the middle of an insertion
        self._sizes = load_size_classes(self.classes, self.probabilities)
        if self.size_class != "mixed":
            self._sizes[self.size_class]

    def check_against(self, shape_kji, spacing_kji) -> None:
        """Lengths must fit the image they are used on (its diagonal): a radius, σ or bulge larger than
        the whole image is a mistake, and would cost time and memory in proportion."""
        ext = extent_mm(shape_kji, spacing_kji)
        if self.radii_mm is not None and max(self.radii_mm) > ext:
            raise InputError(f"radii_mm {list(self.radii_mm)} exceed the image ({ext:.0f} mm across its diagonal)")
        for name, value in (("sigma_mm", self.sigma_mm), ("bulge_mm", self.bulge_mm)):
            if value is not None:
                check_length_mm(value, name, ext)
        if self.radii_mm is None:
            for c in ([self.sizes[self.size_class]] if self.size_class != "mixed" else list(self.sizes)):
                if c.range_mm[1] > ext or c.sigma_mm[1] > ext:
                    raise InputError(f"size class {c.name!r} (semi-axes up to {c.range_mm[1]:g} mm, σ up to "
                                     f"{c.sigma_mm[1]:g} mm) does not fit the image ({ext:.0f} mm across its diagonal)")

    @property
    def sizes(self) -> SizeClassSet:
        assert self._sizes is not None
        return self._sizes

    @property
    def placement_mode(self) -> str:
        if self.placement != "auto":
            return self.placement
        return "point" if self.at_ras is not None else "random"

    def resolved(self) -> InsertionSpec:
        """A copy with the classes written out as a dict (records do not depend on presets/files)."""
        d = self.to_dict()
        d["classes"] = self.sizes.to_dict()
        d["probabilities"] = None
        return InsertionSpec.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict_safe(d).items()}
        if d["at_ras"] is not None:
            d["at_ras"] = [list(p) for p in d["at_ras"]]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InsertionSpec:
        if not isinstance(d, Mapping):
            raise InputError(f"an insertion spec must be an object, got {type(d).__name__}")
        check_keys(d, [f.name for f in fields(cls) if not f.name.startswith("_")], "insertion spec")
        kw = dict(d)
        for key in ("radii_mm", "tissue_hu"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        return cls(**kw)

    @classmethod
    def coerce(cls, spec: InsertionSpec | Mapping[str, Any] | str | None) -> InsertionSpec:
        """Accept a spec, a dict, a class name (``"medium"``) or None (defaults)."""
        if spec is None:
            return cls()
        if isinstance(spec, InsertionSpec):
            return spec
        if isinstance(spec, str):
            return cls(size_class=spec)
        return cls.from_dict(spec)


def asdict_safe(d: dict) -> dict:
    """Deep-copy plain containers (dataclass ``asdict`` semantics for a dict)."""
    return {k: (asdict(v) if hasattr(v, "__dataclass_fields__") else _copy(v)) for k, v in d.items()}


def _copy(v):
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_copy(x) for x in v)
    return v
