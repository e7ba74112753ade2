"""Records (the JSON dict every random SynTumor operation returns) stored on MRML nodes.

A record is kept as a node *attribute* holding a JSON string: attributes are written into the
``.mrml`` scene file, so the record survives Save/Load and travels with the node — unlike a Python
attribute on the node object, which is lost on save.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..utils.errors import InputError

RECORD_ATTRIBUTE = "SynTumor.Record"


def _jsonable(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def record_to_json(record: dict) -> str:
    return json.dumps(record, sort_keys=True, default=_jsonable)


def set_record(node, record: dict, key: str = RECORD_ATTRIBUTE) -> None:
    """Store ``record`` on ``node`` as a JSON attribute named ``key``."""
    if not isinstance(record, dict):
        raise InputError(f"a record must be a dict, got {type(record).__name__}")
    node.SetAttribute(key, record_to_json(record))


def get_record(node, key: str = RECORD_ATTRIBUTE) -> dict | None:
    """The record stored on ``node`` under ``key``, or None when there is none.

    Raises:
        InputError: the attribute exists but is not valid JSON (edited by hand or truncated).
    """
    text = node.GetAttribute(key) if node is not None else None
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"attribute '{key}' of node '{node.GetName()}' is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise InputError(f"attribute '{key}' of node '{node.GetName()}' is not a JSON object")
    return value


def segment_record_key(segment_id: str) -> str:
    """Attribute name for the record of one segment of a segmentation node."""
    return f"{RECORD_ATTRIBUTE}.{segment_id}"
