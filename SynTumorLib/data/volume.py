"""A 3-D image or label map with its physical geometry.

Conventions (used everywhere in SynTumorLib):

* ``Volume.array`` is indexed ``[k, j, i]`` — the order SimpleITK's ``GetArrayFromImage`` and
  Slicer's ``arrayFromVolume`` return — so that arrays move between the three without transposes.
* Geometry is held once, as Slicer holds it: a 4×4 **IJK→RAS** matrix. ``spacing``, ``origin_ras``
  and ``direction_ras`` are derived from it and given in **i, j, k order** (x, y, z as Slicer shows
  them). ``array_spacing`` gives the spacing of each *array* axis (k, j, i) for code that works on
  the array directly (distance transforms, ellipsoids in mm, elastic deformation).
* SimpleITK/ITK use LPS: ``RAS = diag(-1, -1, 1) @ LPS`` for both points and direction columns.

Example:
    >>> import numpy as np
    >>> v = Volume.from_geometry(np.zeros((4, 5, 6), np.int16), spacing=(0.8, 0.8, 2.5))
    >>> v.spacing, v.array_spacing
    ((0.8, 0.8, 2.5), (2.5, 0.8, 0.8))
    >>> v.ras_to_kji(v.kji_to_ras((1, 2, 3))).round(6).tolist()
    [1.0, 2.0, 3.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..utils.errors import InputError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def _as_matrix(m) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.shape != (4, 4):
        raise InputError(f"IJK→RAS matrix must be 4×4, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise InputError("IJK→RAS matrix contains NaN or infinity")
    if abs(np.linalg.det(m[:3, :3])) < 1e-12:
        raise InputError("IJK→RAS matrix is singular (zero spacing or degenerate direction)")
    return m


@dataclass(eq=False)
class Volume:
    """A 3-D array indexed ``[k, j, i]`` plus its IJK→RAS matrix.

    Args:
        array: 3-D numpy array (any dtype), indexed [k, j, i].
        ijk_to_ras: 4×4 matrix mapping (i, j, k, 1) to (R, A, S, 1) in millimetres.
    """

    array: np.ndarray
    ijk_to_ras: np.ndarray

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim != 3:
            raise InputError(f"a volume must be 3-D, got an array of shape {self.array.shape}")
        self.ijk_to_ras = _as_matrix(self.ijk_to_ras)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_geometry(
        cls,
        array: np.ndarray,
        spacing: Sequence[float] = (1.0, 1.0, 1.0),
        origin_ras: Sequence[float] = (0.0, 0.0, 0.0),
        direction_ras: np.ndarray | None = None,
    ) -> Volume:
        """Build from spacing/origin/direction in i, j, k order (RAS space)."""
        spacing = np.asarray(spacing, dtype=np.float64)
        if spacing.shape != (3,) or np.any(spacing <= 0) or not np.all(np.isfinite(spacing)):
            raise InputError(f"spacing must be three positive numbers, got {spacing.tolist()}")
        d = np.eye(3) if direction_ras is None else np.asarray(direction_ras, dtype=np.float64)
        m = np.eye(4)
        m[:3, :3] = d @ np.diag(spacing)
        m[:3, 3] = np.asarray(origin_ras, dtype=np.float64)
        return cls(array, m)

    @classmethod
    def from_lps(
        cls,
        array: np.ndarray,
        spacing: Sequence[float],
        origin_lps: Sequence[float],
        direction_lps: np.ndarray,
    ) -> Volume:
        """Build from ITK-style (LPS) geometry; ``direction_lps`` columns are the i, j, k axes."""
        d = LPS_TO_RAS @ np.asarray(direction_lps, dtype=np.float64).reshape(3, 3)
        o = LPS_TO_RAS @ np.asarray(origin_lps, dtype=np.float64)
        return cls.from_geometry(array, spacing, o, d)

    # ------------------------------------------------------------------ geometry views
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.array.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along i, j, k in mm."""
        return tuple(float(s) for s in np.linalg.norm(self.ijk_to_ras[:3, :3], axis=0))  # type: ignore

    @property
    def array_spacing(self) -> tuple[float, float, float]:
        """Voxel size along the array axes (k, j, i) in mm."""
        return self.spacing[::-1]

    @property
    def origin_ras(self) -> np.ndarray:
        return self.ijk_to_ras[:3, 3].copy()

    @property
    def direction_ras(self) -> np.ndarray:
        """3×3 matrix whose columns are the unit i, j, k directions in RAS."""
        return self.ijk_to_ras[:3, :3] / np.asarray(self.spacing)[None, :]

    @property
    def origin_lps(self) -> np.ndarray:
        return LPS_TO_RAS @ self.origin_ras

    @property
    def direction_lps(self) -> np.ndarray:
        return LPS_TO_RAS @ self.direction_ras

    @property
    def voxel_volume_mm3(self) -> float:
        return float(abs(np.linalg.det(self.ijk_to_ras[:3, :3])))

    # ------------------------------------------------------------------ coordinates
    def kji_to_ras(self, kji) -> np.ndarray:
        """Array index (k, j, i) — or an (N, 3) array of them — to RAS mm."""
        kji = np.asarray(kji, dtype=np.float64)
        ijk = kji[..., ::-1]
        return ijk @ self.ijk_to_ras[:3, :3].T + self.ijk_to_ras[:3, 3]

    def ras_to_kji(self, ras) -> np.ndarray:
        """RAS mm — or an (N, 3) array — to continuous array index (k, j, i)."""
        ras = np.asarray(ras, dtype=np.float64)
        inv = np.linalg.inv(self.ijk_to_ras)
        ijk = ras @ inv[:3, :3].T + inv[:3, 3]
        return ijk[..., ::-1]

    def contains_kji(self, kji, margin: float = 0.5) -> bool:
        """True when a continuous index lies inside the voxel grid (within ``margin`` voxels)."""
        kji = np.asarray(kji, dtype=np.float64)
        return bool(np.all(kji >= -margin) and np.all(kji <= np.asarray(self.shape) - 1 + margin))

    # ------------------------------------------------------------------ derived volumes
    def with_array(self, array: np.ndarray) -> Volume:
        """Same geometry, another array of the same shape."""
        array = np.asarray(array)
        if array.shape != self.array.shape:
            raise InputError(f"array shape {array.shape} differs from the volume's {self.array.shape}")
        return Volume(array, self.ijk_to_ras.copy())

    def copy(self) -> Volume:
        return Volume(self.array.copy(), self.ijk_to_ras.copy())

    def crop(self, slices: tuple[slice, slice, slice]) -> Volume:
        """Sub-volume for array slices (k, j, i) with the origin moved so positions are kept.

        The returned array is a *view*; copy it before writing into it.
        """
        starts = []
        for s, n in zip(slices, self.shape, strict=True):
            start, stop, step = s.indices(n)
            if step != 1:
                raise InputError("crop slices must have step 1")
            starts.append(start)
        m = self.ijk_to_ras.copy()
        m[:3, 3] = self.kji_to_ras(starts)
        return Volume(self.array[slices], m)

    def same_grid(self, other: Volume, atol: float = 1e-3) -> bool:
        """True when both volumes have the same shape and (within ``atol`` mm) the same geometry."""
        return self.shape == other.shape and bool(np.allclose(self.ijk_to_ras, other.ijk_to_ras, atol=atol))

    def geometry_dict(self) -> dict:
        """JSON-friendly geometry (for records and reports)."""
        return {
            "shape_kji": list(self.shape),
            "spacing": list(self.spacing),
            "ijk_to_ras": self.ijk_to_ras.round(9).tolist(),
        }

    def __repr__(self) -> str:
        sp = ", ".join(f"{s:.3g}" for s in self.spacing)
        return f"Volume(shape_kji={self.shape}, dtype={self.array.dtype}, spacing_ijk=({sp}))"

    # ------------------------------------------------------------------ SimpleITK bridge
    def to_sitk(self):
        """SimpleITK image with LPS geometry (the array is copied)."""
        import SimpleITK as sitk

        arr = self.array
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        img = sitk.GetImageFromArray(np.ascontiguousarray(arr))
        img.SetSpacing(self.spacing)
        img.SetOrigin(tuple(float(x) for x in self.origin_lps))
        img.SetDirection(tuple(float(x) for x in self.direction_lps.ravel()))
        return img

    @classmethod
    def from_sitk(cls, img) -> Volume:
        import SimpleITK as sitk

        if img.GetDimension() != 3:
            raise InputError(f"expected a 3-D image, got {img.GetDimension()}-D")
        if img.GetNumberOfComponentsPerPixel() != 1:
            raise InputError(f"expected a scalar image, got {img.GetNumberOfComponentsPerPixel()} components")
        arr = sitk.GetArrayFromImage(img)
        direction = np.asarray(img.GetDirection(), dtype=np.float64).reshape(3, 3)
        return cls.from_lps(arr, img.GetSpacing(), img.GetOrigin(), direction)
