"""Name → shape manifests of DiffTumor's released tensors, and the checks that use them.

``difftumor_manifests.json`` (written by ``tools/make_difftumor_manifests.py``; a test rebuilds it)
holds four sections:

* ``autoencoder`` — the 71 encode/decode tensors of the VQ-GAN (1,669,609 values);
* ``autoencoder_ignored`` — the 83 training-only tensors also in the file (2D/3D discriminators,
  LPIPS); a checkpoint may carry only these besides the 71;
* ``unet`` — the 300 ``Unet3D`` tensors (6,018,736 values);
* ``schedule`` — the 12 schedule buffers, each of shape (T,).

Example:
    >>> m = load_manifests()
    >>> len(m["autoencoder"]), len(m["autoencoder_ignored"]), len(m["unet"]), len(m["schedule"])
    (71, 83, 300, 12)
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...utils.errors import InputError

MANIFEST_FILE = Path(__file__).with_name("difftumor_manifests.json")
FORMAT = "syntumor-difftumor-manifests/1"
SECTIONS = ("autoencoder", "autoencoder_ignored", "unet", "schedule")


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    data = json.loads(MANIFEST_FILE.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise RuntimeError(f"{MANIFEST_FILE}: not a {FORMAT} file")
    return data


def load_manifests() -> dict[str, dict[str, list]]:
    """Each section as ``{key: shape}`` (shapes are lists; ``"T"`` stands for the schedule length)."""
    data = _load()
    return {s: {k: list(v["shape"]) for k, v in data[s].items()} for s in SECTIONS}


def manifest_dtypes(section: str) -> dict[str, str]:
    """``{key: dtype}`` of a section (``float32`` except the BatchNorm counters, ``int64``)."""
    return {k: v["dtype"] for k, v in _load()[section].items()}


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def check_tensors(tensors: dict[str, Any], expected: dict[str, list], label: str, what: str,
                  allowed_extra: dict[str, list] | None = None) -> None:
    """Raise :class:`InputError` naming every missing, misshapen or unexpected key.

    Args:
        tensors: ``{key: tensor}`` found in the file (prefix already removed).
        expected: the manifest ``{key: shape}`` every entry of which must be present.
        label: the file, for the message.
        what: what the tensors are (``"autoencoder"``, ``"denoiser"``, …).
        allowed_extra: keys that may also be present (their shapes are checked too).
    """
    allowed_extra = allowed_extra or {}
    problems: list[str] = []
    missing = [k for k in expected if k not in tensors]
    if missing:
        problems.append(f"{len(missing)} missing key(s): {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    for k, t in tensors.items():
        shape = expected.get(k, allowed_extra.get(k))
        if shape is None:
            continue
        got = list(getattr(t, "shape", ()))
        if got != list(shape):
            problems.append(f"'{k}' has shape {_shape_str(got)}, expected {_shape_str(shape)}")
    unexpected = [k for k in tensors if k not in expected and k not in allowed_extra]
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {', '.join(unexpected[:5])}"
                        f"{' …' if len(unexpected) > 5 else ''}")
    if problems:
        raise InputError(f"{label}: the {what} tensors do not match DiffTumor's released layout: "
                         + "; ".join(problems[:6]))


def schedule_manifest(T: int) -> dict[str, list]:
    """The schedule section with ``"T"`` replaced by ``T``."""
    return {k: [T if s == "T" else s for s in shape] for k, shape in load_manifests()["schedule"].items()}
