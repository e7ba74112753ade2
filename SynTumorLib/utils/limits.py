"""Validate sizes, σ, counts and memory BEFORE allocating — the one helper every parameter check uses.

An absurd value (``--bulge-mm 1e9``, ``--sigma-mm 1e6``, 100 000 control points, a 100 000³ crop)
must fail at once with a message naming the parameter, not after minutes of work or with numpy's
``ArrayMemoryError``. Three kinds of check:

* :func:`check_number` / :func:`check_count` — a finite number or an integer in a documented range;
* :func:`check_length_mm` — a length that cannot exceed the image it applies to (its diagonal);
* :func:`check_memory` / :func:`check_voxels` — an allocation against the **memory budget**: 80 % of
  this machine's RAM, or ``SYNTUMOR_MEMORY_BUDGET`` (bytes, or with a unit: ``512M``, ``8G``).

Example:
    >>> check_count(3, "control_points", 2, MAX_CONTROL_POINTS)
    3
    >>> check_voxels((100_000,) * 3, 4, "a training crop")
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: a training crop would need 3.7e+06 GiB, more than the memory budget ...
"""

from __future__ import annotations

import math
import numbers
import operator
import os
from collections.abc import Sequence

from .errors import InputError

BUDGET_ENV = "SYNTUMOR_MEMORY_BUDGET"
BUDGET_FRACTION = 0.8  # of physical memory when SYNTUMOR_MEMORY_BUDGET is not set

# Hard caps: each is far beyond any sensible use, and each keeps a loop or an allocation bounded.
MAX_TUMOURS = 100  # tumours in one insertion (the reference inserts 1–3)
MAX_ATTEMPTS = 10_000  # shape draws per tumour
MAX_CONTROL_POINTS = 64  # elastic control points per axis (the reference uses 3)
MAX_LENGTH_MM = 1000.0  # any radius, σ or margin: larger than a whole-body CT is wide
# Host memory per voxel of a training batch: the float32 image and int64 label crops, their
# augmented and synthesised copies and the collated batch (network activations come on top, on
# the training device).
HOST_BYTES_PER_TRAINING_VOXEL = 32

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_bytes(text: str) -> int:
    """``"512M"`` → 536870912; plain numbers are bytes (``K/M/G/T`` are binary units)."""
    s = str(text).strip().lower().removesuffix("ib").removesuffix("b")
    unit = s[-1:] if s[-1:] in _UNITS and not s[-1:].isdigit() else ""
    try:
        value = float(s[: len(s) - len(unit)])
    except ValueError:
        raise InputError(f"{BUDGET_ENV}={text!r}: expected a size such as 8G, 512M or 1000000000") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{BUDGET_ENV}={text!r}: the budget must be a positive size")
    return int(value * _UNITS[unit])


def physical_memory_bytes() -> int:
    """Installed RAM (8 GiB when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    if os.name == "nt":
        import ctypes

        class _Status(ctypes.Structure):
            _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                        ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                        ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                        ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                        ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

        st = _Status()
        st.dwLength = ctypes.sizeof(_Status)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(st)):
            return int(st.ullTotalPhys)
    return 8 * 2**30


def memory_budget_bytes() -> int:
    """The memory one operation may allocate: ``SYNTUMOR_MEMORY_BUDGET``, else 80 % of the RAM."""
    env = os.environ.get(BUDGET_ENV)
    if env:
        return parse_bytes(env)
    return int(BUDGET_FRACTION * physical_memory_bytes())


def format_bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            v = n / size
            return f"{v:.3g} {unit}" if v < 1e5 else f"{v:.2g} {unit}"
    return f"{int(n)} B"


def check_memory(nbytes: float, what: str, hint: str = "") -> float:
    """Raise ``InputError`` when ``what`` would allocate more than the memory budget."""
    budget = memory_budget_bytes()
    if not math.isfinite(nbytes) or nbytes > budget:
        src = f"{BUDGET_ENV}={os.environ[BUDGET_ENV]}" if os.environ.get(BUDGET_ENV) else \
            f"{BUDGET_FRACTION:.0%} of this machine's memory; set {BUDGET_ENV} to change it"
        raise InputError(f"{what} would need {format_bytes(nbytes)}, more than the memory budget of "
                         f"{format_bytes(budget)} ({src}){'; ' + hint if hint else ''}")
    return nbytes


def check_voxels(shape: Sequence[float], bytes_per_voxel: float, what: str, hint: str = "") -> int:
    """``check_memory`` for an array of ``shape`` (any number of axes) at ``bytes_per_voxel``; returns its voxel count."""
    n = 1.0
    for s in shape:
        n *= max(float(s), 0.0)
    check_memory(n * float(bytes_per_voxel), what, hint)
    return int(n)


def check_number(value, name: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                 unit: str = "") -> float:
    """A finite number in [lo, hi] (``(lo, hi]`` with ``lo_open``); returns it as a float."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    u = f" {unit}" if unit else ""
    below = lo is not None and (v <= lo if lo_open else v < lo)
    if not math.isfinite(v) or below or (hi is not None and v > hi):
        lo_s = "" if lo is None else (f"> {lo:g}" if lo_open else f"≥ {lo:g}")
        hi_s = "" if hi is None else f"≤ {hi:g}"
        rule = " and ".join(s for s in (lo_s, hi_s) if s) or "finite"
        raise InputError(f"{name} must be {rule}{u}, got {value!r}")
    return v


def check_count(value, name: str, lo: int = 1, hi: int | None = None) -> int:
    """An integer in [lo, hi] (numpy integers and whole floats count); returns it as an int."""
    try:
        v = operator.index(value)
    except TypeError:
        ok = isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer()
        if not ok:
            raise InputError(f"{name} must be a whole number, got {value!r}") from None
        v = int(value)
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f"≥ {lo}"
        raise InputError(f"{name} must be {rng}, got {v}")
    return v


def extent_mm(shape_kji: Sequence[int], spacing_kji: Sequence[float]) -> float:
    """The diagonal of an image's field of view in mm (no length inside it can be longer)."""
    return float(math.sqrt(sum((float(n) * float(s)) ** 2 for n, s in zip(shape_kji, spacing_kji, strict=True))))


def check_length_mm(value, name: str, extent: float | None = None, *, allow_zero: bool = True,
                    what: str = "the image") -> float:
    """A length in mm: finite, ≥ 0 (> 0 unless ``allow_zero``), at most :data:`MAX_LENGTH_MM` and at
    most ``extent`` (the diagonal of ``what``) when given."""
    v = check_number(value, name, 0.0, MAX_LENGTH_MM, lo_open=not allow_zero, unit="mm")
    if extent is not None and v > extent:
        raise InputError(f"{name} = {v:g} mm is larger than {what} ({extent:.0f} mm across its diagonal)")
    return v
