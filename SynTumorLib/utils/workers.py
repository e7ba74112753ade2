"""Worker and child processes die with their parent.

``kill -9`` of a parent gives it no chance to stop its pool: spawned workers block on a queue that
will never be read again and stay alive for ever (a probe found them still running 12 minutes
later). Every worker therefore runs :func:`watch_parent` — as the pool ``initializer``, or first
thing in a child process — which exits the worker as soon as its parent is gone: at once on Linux
(``PR_SET_PDEATHSIG``), and within :data:`POLL_S` everywhere (a watchdog thread comparing the parent
pid, or on Windows asking whether the parent process is still running).

Example::

    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=watch_parent,
                             initargs=(os.getpid(),)) as pool:
        ...
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

POLL_S = 0.5


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` is running (POSIX signal 0, Windows ``GetExitCodeProcess``)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parent_gone(parent_pid: int) -> bool:
    if os.name == "nt":
        return not pid_alive(parent_pid)
    return os.getppid() != parent_pid  # re-parented (to init or a subreaper): the parent died


def _die(kill_group: bool) -> None:
    if kill_group and hasattr(os, "killpg"):
        try:
            os.killpg(0, signal.SIGKILL)  # our own session (see watch_parent): us and our children
        except OSError:
            pass
    os._exit(1)


def watch_parent(parent_pid: int, *, kill_group: bool = False) -> None:
    """Exit this process when process ``parent_pid`` (its parent) dies.

    Args:
        parent_pid: the parent's pid, taken by the parent (``os.getpid()``) when it starts the worker.
        kill_group: POSIX: make this process the leader of a new session first and, when the parent
            dies, kill the whole session — the worker and every process it started (nnU-Net's
            augmentation workers). Only for a child whose own children should go with it.
    """
    parent_pid = int(parent_pid)
    if kill_group and hasattr(os, "setsid"):
        try:
            os.setsid()
        except OSError:
            kill_group = False  # already a session leader: never kill a group we did not make
    if sys.platform.startswith("linux") and not kill_group:
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if _parent_gone(parent_pid):  # died before we got here
        _die(kill_group)

    def loop() -> None:
        while True:
            time.sleep(POLL_S)
            if _parent_gone(parent_pid):
                _die(kill_group)

    threading.Thread(target=loop, name="syntumor-watch-parent", daemon=True).start()
