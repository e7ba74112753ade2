"""Pieces several ``syntumor`` commands share: a terminal progress bar and the options that say how to
read a dataset (layout and source label values).

Not a command (``cli.main`` discovers commands in ``cli/commands/`` only). Example::

    from ..common import add_dataset_options, dataset_options, progress_bar

    add_dataset_options(parser)                     # --kind, --pancreas-label, --tumour-label
    ds = open_dataset(args.path, **dataset_options(args))
    check_dataset(ds, progress=progress_bar("checking"))
"""

from __future__ import annotations

import argparse
import sys

from ..utils.progress import ProgressCallback


def progress_bar(desc: str, leave: bool = False) -> ProgressCallback:
    """A ``(fraction, message)`` callback drawing a tqdm bar on a terminal (silent otherwise)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=1000, desc=desc, disable=not sys.stderr.isatty(), dynamic_ncols=True, leave=leave)

    def cb(fraction: float, message: str = "") -> None:
        bar.n = int(1000 * max(0.0, min(1.0, fraction)))
        bar.set_postfix_str(message, refresh=True)
        if fraction >= 1.0:
            bar.close()

    return cb


def label_values(text: str) -> list[int]:
    """argparse type: ``"2"`` → [2], ``"1,2"`` → [1, 2]."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"label values must be integers (e.g. 2 or 1,2), got {text!r}") from None


def label_spec(text: str) -> int | list[int]:
    """argparse type for a source label (``LabelSpec``): ``"7"`` → 7, ``"2,3"`` → [2, 3]."""
    values = label_values(text)
    return values[0] if len(values) == 1 else values


def add_dataset_options(p: argparse.ArgumentParser) -> None:
    """``--kind``, ``--pancreas-label``, ``--tumour-label``: how ``open_dataset`` reads the input."""
    from ..data.datasets import KINDS

    p.add_argument("--kind", default="auto", choices=("auto", *KINDS), help="dataset layout (default: detect)")
    p.add_argument("--pancreas-label", type=label_spec, default=None, metavar="V[,V]",
                   help="source label value(s) of the pancreas (default: the layout's own, e.g. 11 for BTCV)")
    p.add_argument("--tumour-label", type=label_spec, default=None, metavar="V[,V]",
                   help="source label value(s) of tumour (default: 2 where the layout has tumours)")


def dataset_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``open_dataset`` (and the dataset writers) set by ``add_dataset_options``."""
    return {"kind": args.kind, "pancreas_label": args.pancreas_label, "tumour_label": args.tumour_label}
