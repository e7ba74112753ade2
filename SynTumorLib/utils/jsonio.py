"""JSON helpers that understand numpy scalars/arrays and Paths, and give clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError


def _default(o: Any):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_default, indent=2, sort_keys=False)


MAX_JSON_BYTES = 256 * 2**20  # configs, records and dataset.json files are kilobytes to a few megabytes


def read_json(path: str | Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file; a missing file, a folder, an oversized file or invalid JSON is an
    ``InputError`` naming the file (the size is checked before anything is read)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a JSON file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path}: {size / 2**20:.0f} MiB is too large for a JSON file here (limit "
                         f"{max_bytes / 2**20:.0f} MiB); is it the right file?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a SynTumor JSON file") from None
