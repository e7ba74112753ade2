"""Progress reporting usable from terminals (tqdm), Slicer CLI modules (``<filter-progress>``) and
GUI callbacks. Library code takes an optional ``progress`` callable ``(fraction, message)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
ProgressCallback = Callable[[float, str], None]


def track(items: Iterable[T], total: int | None = None, desc: str = "", disable: bool | None = None) -> Iterator[T]:
    """tqdm in a terminal, silent otherwise (unless ``disable=False``)."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    yield from tqdm(items, total=total, desc=desc, disable=disable, dynamic_ncols=True)


def filter_progress_printer(stream=None) -> ProgressCallback:
    """A callback printing Slicer Execution Model progress lines (``<filter-progress>0.42</filter-progress>``)."""
    out = stream or sys.stdout

    def cb(fraction: float, message: str = "") -> None:
        if message:
            print(f"<filter-comment>{message}</filter-comment>", file=out)
        print(f"<filter-progress>{max(0.0, min(1.0, fraction)):.4f}</filter-progress>", file=out, flush=True)

    return cb
