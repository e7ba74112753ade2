"""CPU time of this process and its finished children — the load-independent cost of a piece of work.

``resource.getrusage`` (microsecond resolution) where it exists; on Windows, which has no
``resource`` module, ``os.times`` (there only this process's own time is known).

Example:
    >>> t0 = cpu_seconds()
    >>> _ = sum(i * i for i in range(10000))
    >>> cpu_seconds() >= t0
    True
"""

from __future__ import annotations

import os


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    try:
        import resource
    except ImportError:  # Windows
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
