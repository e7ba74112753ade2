"""One writer per output: a lock that a second run into the same ``--out`` fails on, clearly.

The lock is an operating-system lock on a small hidden file beside the output — ``.NAME.syntumor.lock``
in the output's parent folder, for a folder and a file output alike, so the output itself holds
nothing extra — taken with ``fcntl.flock`` on POSIX and ``msvcrt.locking`` on Windows (an
exclusive-create file with the holder's pid where neither works). The operating system drops the
lock when its process dies, even by ``kill -9``, so a killed run never blocks the next one. While
holding it, stale temporary files of killed writes in the output are removed (nobody else can be
writing them). On release the lock file is deleted, and so are the parent folders the lock itself
had to create, when the run left them empty (a refused run leaves nothing behind).

Example:
    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "new", "out")
    >>> with output_lock(out):
    ...     try:
    ...         with output_lock(out):
    ...             pass
    ...     except OutputBusyError as e:
    ...         print("busy")
    busy
    >>> os.path.exists(os.path.dirname(out))   # nothing was written: the folder the lock made is gone
    False
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError
from .paths import remove_stale_temps, resolved_path
from .workers import pid_alive

LOCK_SUFFIX = ".syntumor.lock"
_INFO_OFFSET = 1  # byte 0 is the locked byte on Windows; the holder's description follows it


class OutputBusyError(InputError):
    """Another running process holds the output's lock."""


def lock_path(out: str | os.PathLike) -> Path:
    """The lock file of output ``out``: ``.NAME.syntumor.lock`` beside it."""
    o = resolved_path(out)
    return o.parent / f".{o.name}{LOCK_SUFFIX}"


def _try_lock(fd: int) -> bool | None:
    """True: locked; False: held by another; None: no OS lock available here."""
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:  # e.g. a file system without flock support
        return None


def _read_info(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            f.seek(_INFO_OFFSET)
            info = json.loads(f.read(4096).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _busy(out: Path, path: Path) -> OutputBusyError:
    info = _read_info(path)
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    who = (f"`{info.get('command', 'syntumor')}` (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
           f"started {started})") if info else "another process"
    return OutputBusyError(f"{out}: another run is writing this output: {who}; wait for it to finish or choose "
                           "another output")


def _info() -> bytes:
    command = " ".join(["syntumor", *sys.argv[1:]])[:300]
    return b" " + json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                               "command": command}).encode("utf-8")


def _acquire(out: Path, path: Path) -> int:
    """An open, locked file descriptor for ``path``; retries when the file was replaced meanwhile."""
    for _ in range(20):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        got = _try_lock(fd)
        if got is None:  # no OS locks: fall back to exclusive creation plus the holder's pid
            os.close(fd)
            return _acquire_by_pid(out, path)
        if not got:
            os.close(fd)
            raise _busy(out, path)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, _info())
            return fd
        os.close(fd)  # the holder deleted the file while we opened it: lock the new one
    raise _busy(out, path)


def _acquire_by_pid(out: Path, path: Path) -> int:
    for _ in range(2):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if pid_alive(int(_read_info(path).get("pid", 0) or 0)):
                raise _busy(out, path) from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a dead holder's lock
            continue
        os.write(fd, _info())
        return fd
    raise _busy(out, path)


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    out = []
    p = folder
    while not p.exists() and p.parent != p:
        out.append(p)
        p = p.parent
    return out


def _remove_empty(created: list[Path]) -> None:
    for p in created:  # deepest first
        try:
            p.rmdir()
        except OSError:
            break  # not empty (the run wrote something) or already gone


@contextlib.contextmanager
def output_lock(out: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of output ``out`` (a file or a folder) for the ``with`` block.

    Creates the output's parent folder when needed; removes stale temporary files of killed writes
    in and beside the output; raises :class:`OutputBusyError` when another live process holds the
    lock. Under ``torchrun`` only rank 0 locks (every rank writes into the same output by design).
    """
    o = resolved_path(out)
    if int(os.environ.get("RANK", "0") or 0) != 0:
        yield Path(out)
        return
    created = _missing_folders(o.parent)
    o.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(o)
    try:
        fd = _acquire(Path(out), path)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        remove_stale_temps(o.parent, target=o.name)
        if o.is_dir():
            remove_stale_temps(o)
        yield Path(out)
    finally:
        try:
            path.unlink()  # while still locked: a waiter then finds the file gone and starts afresh
            unlinked = True
        except OSError:
            unlinked = False  # Windows: an open file cannot be deleted
        os.close(fd)
        if not unlinked:
            with contextlib.suppress(OSError):
                path.unlink()
        _remove_empty(created)
