"""Path rules every command shares: case ids from file names, the "outputs outside the inputs" rule,
and the hidden temporary files that atomic writes leave behind when a process is killed.

Example:
    >>> case_id_from_path("/data/imagesTr/case_001_0000.NII.GZ", channel=True)
    'case_001'
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> ensure_outside(os.path.join(d, "out"), os.path.join(d, "in"))   # siblings: fine
    >>> ensure_outside(os.path.join(d, "in", "out"), os.path.join(d, "in"))
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: ...lies inside the input...
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

# The volume file suffixes SynTumor reads and writes (the one list; ``data.io`` re-exports it).
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
CHANNEL_SUFFIX = "_0000"  # nnU-Net's first (only) input channel

# What ``utils.atomic.atomic_path`` (tempfile.mkstemp) and the DICOM/two-file writers
# (tempfile.mkdtemp) create beside a target: ".<target name>.<8 random characters>.tmp[<suffix>]".
_TEMP = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp(\..*)?$")


def case_id_from_path(path: str | os.PathLike, *, channel: bool = False) -> str:
    """The case id of a volume file: its name without a volume suffix (case-insensitive), and with
    ``channel=True`` also without nnU-Net's ``_0000`` channel suffix.

    >>> case_id_from_path("ct.nii.gz"), case_id_from_path("img0001.MHA"), case_id_from_path("x_0000.nrrd")
    ('ct', 'img0001', 'x_0000')
    """
    name = Path(path).name
    low = name.lower()
    for suffix in VOLUME_SUFFIXES:
        if low.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if channel and name.endswith(CHANNEL_SUFFIX):
        name = name[: -len(CHANNEL_SUFFIX)]
    return name


def is_hidden(path: str | os.PathLike) -> bool:
    """Hidden files (``.x``): macOS ``._`` resource forks, our temporary files, lock files. Readers skip them."""
    return Path(path).name.startswith(".")


def is_temp_file(path: str | os.PathLike) -> bool:
    """True for a hidden temporary file or folder of an atomic write (``.NAME.abcd1234.tmp.nii.gz``)."""
    return bool(_TEMP.match(Path(path).name))


def remove_stale_temps(folder: str | os.PathLike, *, target: str | None = None) -> int:
    """Delete the temporary files and folders that killed writes left in ``folder`` and below it
    (only ``target``'s, directly in ``folder``, when a target name is given). Call it only while
    holding the folder's output lock: a running writer's temporary files look the same. Returns how
    many were removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    if target is not None:
        candidates: Iterable[Path] = (p for p in folder.iterdir() if (m := _TEMP.match(p.name)) and m["target"] == target)
    else:
        candidates = (Path(root) / name for root, dirs, files in os.walk(folder) for name in (*dirs, *files)
                      if _TEMP.match(name))
    for p in list(candidates):
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def resolved_path(p: str | os.PathLike) -> Path:
    """``p`` absolute, ``~`` expanded and links resolved, whether or not it exists yet (outputs often
    don't): the one form in which paths are compared (the output rule, the output locks)."""
    return Path(os.path.abspath(Path(p).expanduser())).resolve(strict=False)


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:  # hard links, bind mounts, case-insensitive file systems
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _strictly_inside(child: Path, parent: Path) -> bool:
    return any(_same(p, parent) for p in child.parents)


def ensure_outside(out: str | os.PathLike | None, *inputs: str | os.PathLike | None, what: str = "output") -> None:
    """The one rule for every writer: an output may not equal, contain or sit inside any input.

    Symbolic links are resolved and hard links compared, so a link to an input counts as the input.
    ``None`` entries are ignored. Check before creating anything, so a refusal leaves nothing behind.

    Raises:
        InputError: naming the output, the input and how they overlap.
    """
    if out is None:
        return
    o = resolved_path(out)
    for inp in inputs:
        if inp is None:
            continue
        i = resolved_path(inp)
        if _same(o, i):
            how = "is the input"
        elif _strictly_inside(o, i):
            how = "lies inside the input"
        elif _strictly_inside(i, o):
            how = "contains the input"
        else:
            continue
        raise InputError(f"{out}: the {what} {how} {inp}; inputs are never written — choose another path")
