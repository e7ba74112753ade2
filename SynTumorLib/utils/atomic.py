"""Atomic file output: write to a temporary file in the same folder, then ``os.replace``.

A crash or a kill leaves either the old file or the new one, never a half-written file — which is
what lets training resume from its last checkpoint and batch tools skip finished cases.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    ``suffix`` defaults to the full suffix of ``path`` (e.g. ``.nii.gz``) so that writers that pick
    a format from the file name still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            # mkstemp creates 0600 files; give the result the permissions a plain open() would
            # (0666 minus the umask) so reports and datasets stay readable by others.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    from .jsonio import dumps

    return write_text_atomic(path, dumps(obj) + "\n")


def link_or_copy_atomic(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Place ``src`` at ``dst`` atomically: a hard link (no extra disk for derived datasets that reuse
    an image), else a copy (another file system). Returns ``"linked"`` or ``"copied"``."""
    import shutil

    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
            return "linked"
        except OSError:
            shutil.copy2(src, tmp)
            return "copied"
