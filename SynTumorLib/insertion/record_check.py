"""Validate an ``insert_tumours`` record before :func:`~SynTumorLib.insertion.insert.replay` renders it.

A record is a user-editable JSON file: a tampered one (``"tumours": "x"``, semi-axes of 1e7 mm, a
box far outside the image) must fail with one clear message, not a ``TypeError`` or a PiB
allocation. Shapes are checked for type and range here; what they would allocate is checked again
where it is allocated (:mod:`SynTumorLib.utils.limits`).

Example:
    >>> check_insert_record({"op": "insert_tumours", "tumours": "x"}, (10, 10, 10))
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: insert_tumours record: 'tumours' must be a list of tumours, got str
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..geometry.shapes import ShapeDraw, check_semi_axes
from ..utils.errors import InputError
from ..utils.limits import MAX_TUMOURS, check_length_mm

PLAN_KEYS = ("shape", "box_start_kji", "clip_to_organ", "texture")


def _fail(msg: str) -> InputError:
    return InputError(f"insert_tumours record: {msg}")


def _shape(d: Any, where: str) -> dict:
    if not isinstance(d, dict):
        raise _fail(f"{where}.shape must be an object, got {type(d).__name__}")
    try:
        draw = ShapeDraw.from_dict(d)
    except (KeyError, TypeError, ValueError) as e:
        raise _fail(f"{where}.shape is incomplete or malformed ({type(e).__name__}: {e})") from None
    check_semi_axes(draw.semi_axes_mm, f"insert_tumours record: {where}.shape.semi_axes_mm")
    check_length_mm(draw.sigma_mm, f"insert_tumours record: {where}.shape.sigma_mm")
    if draw.rotation is not None and (len(draw.rotation) != 3 or any(len(r) != 3 for r in draw.rotation)):
        raise _fail(f"{where}.shape.rotation must be a 3×3 matrix")
    if draw.elastic_mode not in ("independent", "pairs"):
        raise _fail(f"{where}.shape.elastic_mode must be 'independent' or 'pairs', got {draw.elastic_mode!r}")
    return d


def check_insert_record(record: Any, shape_kji: Sequence[int]) -> list[dict[str, Any]]:
    """The per-tumour plans of a record (the keys replay needs), after checking their types and ranges.

    Raises:
        InputError: not a record, ``tumours`` not a list of objects, a missing key, a malformed or
            absurd shape, a box start that is not three integers or lies farther than the image's
            own size outside it.
    """
    if not isinstance(record, dict) or record.get("op") != "insert_tumours":
        raise InputError("not an insert_tumours record (op must be 'insert_tumours')")
    tumours = record.get("tumours")
    if not isinstance(tumours, list):
        raise _fail(f"'tumours' must be a list of tumours, got {type(tumours).__name__}")
    if len(tumours) > MAX_TUMOURS:
        raise _fail(f"{len(tumours)} tumours, more than the {MAX_TUMOURS} one insertion may hold")
    plans = []
    for n, t in enumerate(tumours):
        where = f"tumours[{n}]"
        if not isinstance(t, dict):
            raise _fail(f"{where} must be an object, got {type(t).__name__}")
        missing = [k for k in PLAN_KEYS if k not in t]
        if missing:
            raise _fail(f"{where} lacks {', '.join(missing)}")
        start = t["box_start_kji"]
        if not (isinstance(start, list) and len(start) == 3 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                     for x in start)):
            raise _fail(f"{where}.box_start_kji must be three integers, got {start!r}")
        if any(abs(x) > 4 * n_ for x, n_ in zip(start, shape_kji, strict=True)):
            raise _fail(f"{where}.box_start_kji {start} lies far outside the image {list(shape_kji)}")
        if not isinstance(t["clip_to_organ"], bool):
            raise _fail(f"{where}.clip_to_organ must be true or false")
        if not isinstance(t["texture"], dict):
            raise _fail(f"{where}.texture must be an object of texture parameters")
        plans.append({"shape": _shape(t["shape"], where), "box_start_kji": start,
                      "clip_to_organ": t["clip_to_organ"], "texture": t["texture"]})
    if not isinstance(record.get("spec"), dict):
        raise _fail("'spec' must be an object")
    if not isinstance(record.get("texture"), (dict, str)):
        raise _fail("'texture' must name the texture the record was made with")
    return plans
