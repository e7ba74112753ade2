"""Atomic file output: write to a temporary file in the same folder, then ``os.replace``.

A crash or a kill leaves either the old file or the new one, never a half-written file — which is
what lets training resume from its last checkpoint and batch tools skip finished cases.

On Windows a rename onto a file that another process has open (a virus scanner, the search
indexer, a viewer still reading the previous version) fails for a moment with ``PermissionError``;
:func:`replace` retries it briefly there instead of failing the whole write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_WINDOWS = os.name == "nt"
REPLACE_RETRY_S = (0.05, 0.1, 0.2, 0.4, 0.8)  # Windows: waits between attempts (≈1.5 s in all)


def replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """``os.replace(src, dst)``, retried on Windows while ``dst`` is briefly held open by another process.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a").write_text("new"), (d / "b").write_text("old")
    >>> replace(d / "a", d / "b"); (d / "b").read_text()
    'new'
    """
    for wait in (*REPLACE_RETRY_S, None) if _WINDOWS else (None,):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if wait is None:
                raise
            time.sleep(wait)


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
        replace(tmp_path, path)
    finally:
        with contextlib.suppress(OSError):  # Windows: a file still open elsewhere cannot be removed yet
            tmp_path.unlink(missing_ok=True)


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
