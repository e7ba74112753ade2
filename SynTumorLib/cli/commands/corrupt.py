"""``syntumor corrupt``: copy a dataset with its tumour labels corrupted by elastic deformation.

Examples::

    syntumor corrupt --dataset ~/data/Task07_Pancreas --level moderate --seed 1 --out ~/data/Task07_moderate
    syntumor corrupt --dataset ~/data/Task07_Pancreas --sigma-mm 2.5 --mode pairs --out ~/data/Task07_s2.5
    syntumor corrupt --list-levels
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..common import PathRoles, add_dataset_options, dataset_options, label_values, progress_bar


def _sigma(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"σ must be a number of millimetres, got {text!r}") from None


def _run(args) -> int:
    from ...corruption.levels import LEVEL_NAMES, load_levels
    from ...utils.errors import InputError

    if args.list_levels:
        levels = load_levels()
        for name in LEVEL_NAMES:
            print(f"{name}\t{levels[name]:g} mm")
        return 0
    if args.dataset is None or args.out is None:
        raise InputError("--dataset and --out are required (or use --list-levels)")
    if (args.level is None) == (args.sigma_mm is None):
        raise InputError("give exactly one of --level (low, moderate, high, extreme) and --sigma-mm")
    from ...corruption.dataset import corrupt_dataset

    summary = corrupt_dataset(
        args.dataset, args.out, level=args.level, sigma_mm=args.sigma_mm, seed=args.seed, **dataset_options(args),
        progress=progress_bar("corrupting"), control_points=args.control_points, mode=args.mode,
        target_labels=args.target_labels, per_component=not args.whole_label,
        keep_inside_organ=args.keep_inside_organ, tolerance_mm=args.tolerance_mm,
    )
    d, h = summary["dice"], summary["hd95_mm"]
    print(f"{args.out}: {summary['cases']} cases ({summary['corrupted']} corrupted, {summary['unchanged']} without tumour)")
    if d:
        hd = f"; HD95 mean {h['mean']:.2f} mm" if h else ""
        print(f"tumour Dice to clean labels: mean {d['mean']:.3f} (median {d['median']:.3f}){hd}")
    for w in summary["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    print(f"summary: {Path(args.out) / 'summary.md'}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "corrupt", help="copy a dataset with elastically corrupted tumour labels (noisy-label study)",
        description="Write an MSD-layout copy of a dataset whose tumour labels are corrupted by random-grid\n"
                    "elastic deformation (control-point shifts ~ N(0, σ²) in mm). Images are hard-linked\n"
                    "unchanged; each case gets a replay record; summary.json/.md give Dice, NSD, mean\n"
                    "surface distance and HD95 to the clean labels. Re-running resumes; the input is never\n"
                    "written.",
        epilog="examples:\n"
               "  syntumor corrupt --dataset Task07_Pancreas --level moderate --seed 1 --out Task07_moderate\n"
               "  syntumor corrupt --dataset Task07_Pancreas --sigma-mm 2.5 --mode pairs --out Task07_s2.5\n"
               "  syntumor corrupt --list-levels\n\n"
               "Levels are calibrated σ presets (docs/results/noise-calibration.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", type=Path, help="input dataset (MSD, NIH, BTCV, TotalSegmentator, folder)")
    add_dataset_options(p)
    p.add_argument("--out", type=Path, help="output folder (outside the input)")
    p.add_argument("--level", choices=("low", "moderate", "high", "extreme"), help="named noise level")
    p.add_argument("--sigma-mm", type=_sigma, help="σ of the control-point shifts in mm (instead of --level)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0); per-case seeds derive from it")
    p.add_argument("--mode", choices=("independent", "pairs"), default="independent",
                   help="independent: one 3-D field, x/y/z independent (paper); pairs: reference's 3 axis-pair passes")
    p.add_argument("--control-points", type=int, default=3, help="control points per axis (default 3)")
    p.add_argument("--keep-inside-organ", action="store_true", help="keep the deformed tumour inside the clean pancreas")
    p.add_argument("--whole-label", action="store_true",
                   help="deform all tumours as one mask (default: each connected tumour separately)")
    p.add_argument("--target-labels", type=label_values, default=[2], metavar="V[,V]",
                   help="canonical label values to corrupt (default 2 = tumour)")
    p.add_argument("--tolerance-mm", type=float, default=2.0, help="NSD tolerance in the summary (default 2)")
    p.add_argument("--list-levels", action="store_true", help="print the calibrated levels and exit")
    p.set_defaults(func=_run, paths=PathRoles(outputs={"out": "dir"}, inputs=("dataset",)))
