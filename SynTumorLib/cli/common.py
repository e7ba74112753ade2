"""Pieces several ``syntumor`` commands share: a terminal progress bar and the options that say how to
read a dataset (layout and source label values).

It also holds :class:`PathRoles`, how a command declares the files it reads and writes, which
``cli.main`` checks (outputs outside inputs, right kind) and locks before the command runs.

Not a command (``cli.main`` discovers commands in ``cli/commands/`` only). Example::

    from ..common import PathRoles, add_dataset_options, dataset_options, progress_bar

    add_dataset_options(parser)                     # --kind, --pancreas-label, --tumour-label
    parser.set_defaults(func=run, paths=PathRoles(outputs={"json": "file"}, inputs=("path",)))
    ds = open_dataset(args.path, **dataset_options(args))
    check_dataset(ds, progress=progress_bar("checking"))
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..utils.progress import ProgressCallback

OUTPUT_KINDS = ("dir", "file", "any")


@dataclass(frozen=True)
class PathRoles:
    """The files a command reads and writes, named by their argparse ``dest``.

    Args:
        outputs: dest → ``"dir"`` (a folder), ``"file"`` or ``"any"``. Before the command runs, each
            given output must be of that kind if it exists, must lie outside every input
            (:func:`~SynTumorLib.utils.paths.ensure_outside`) and is locked
            (:func:`~SynTumorLib.utils.outlock.output_lock`): a second run into it fails at once.
        inputs: dests of files/folders read (values that name no existing path — a preset name such
            as ``statistical`` — are ignored).
    """

    outputs: dict[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.outputs.items() if v not in OUTPUT_KINDS}
        if bad:
            raise ValueError(f"output kinds must be one of {OUTPUT_KINDS}, got {bad}")


def _values(v) -> list:
    if v is None:
        return []
    return [x for x in v if x is not None] if isinstance(v, (list, tuple)) else [v]


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


@contextlib.contextmanager
def guarded_paths(args: argparse.Namespace) -> Iterator[None]:
    """Check and lock the outputs ``args.paths`` declares (a no-op for commands without one)."""
    from ..utils.errors import InputError
    from ..utils.outlock import output_lock
    from ..utils.paths import ensure_outside

    roles: PathRoles | None = getattr(args, "paths", None)
    if roles is None:
        yield
        return
    inputs = [Path(os.fspath(p)) for d in roles.inputs for p in _values(getattr(args, d, None))
              if isinstance(p, (str, os.PathLike)) and str(p) and Path(os.fspath(p)).exists()]
    outputs = []
    for dest, kind in roles.outputs.items():
        for out in _values(getattr(args, dest, None)):
            p = Path(os.fspath(out))
            if kind == "file" and p.is_dir():
                raise InputError(f"{p}: {_option(dest)} is an existing folder; give a file name")
            if kind == "dir" and p.exists() and not p.is_dir():
                raise InputError(f"{p}: {_option(dest)} exists and is not a folder")
            ensure_outside(p, *inputs, what=f"output ({_option(dest)})")
            outputs.append(p)
    existed = {p: p.exists() for p in outputs}
    with contextlib.ExitStack() as stack:
        for p in dict.fromkeys(outputs):
            stack.enter_context(output_lock(p))
        try:
            yield
        except BaseException:
            for p in outputs:  # a run that failed before writing anything leaves no empty folders behind
                if not existed[p]:
                    _remove_if_no_files(p)
            raise


def _remove_if_no_files(folder: Path) -> None:
    """Delete ``folder`` if it is a tree of empty folders (anything holding a file is kept)."""
    import shutil

    if not folder.is_dir() or folder.is_symlink():
        return
    if any(files for _, _, files in os.walk(folder)):
        return
    shutil.rmtree(folder, ignore_errors=True)


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
