"""``syntumor evaluate``: score predicted label maps against references (DSC, NSD@2 mm, HD95, lesions).

Example::

    syntumor evaluate --pred runs/unet/pred --ref ~/data/Task07_Pancreas --out runs/unet/eval
    syntumor evaluate --pred runs/unet/pred --prob runs/unet/prob --ref ~/data/Task07_Pancreas --out runs/unet/eval
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..common import PathRoles


def _sizes(text: str):
    """``tiny``-style preset / JSON path, or comma-separated cut radii in mm (``5,9,14``)."""
    parts = [t.strip() for t in text.split(",")]
    try:
        return [float(t) for t in parts]
    except ValueError:
        if len(parts) > 1:
            raise argparse.ArgumentTypeError(f"cut radii must be numbers, got {text!r}") from None
        return text


def _run(args) -> int:
    from ...metrics.evaluate import evaluate_folders
    from .nnunet import progress_bar

    rule = {"threshold": args.det_threshold, "min_lesion_mm3": args.min_lesion_mm3, "hit_iou": args.hit_iou}
    summary = evaluate_folders(args.pred, args.ref, args.out, tolerance_mm=args.tolerance_mm,
                               size_classes=args.size_classes, include_empty=args.include_empty,
                               progress=progress_bar("evaluating"), prob_dir=args.prob, detection=rule)
    m = summary["metrics"]
    dsc, nsd = m["tumour_dice"], m["tumour_nsd"]

    def pm(s):
        return "–" if s["mean"] is None else f"{100 * s['mean']:.2f} ± {100 * s['sd']:.2f} %"

    print(f"{summary['n_cases']} cases ({summary['n_tumour_cases']} with tumour): tumour DSC {pm(dsc)}, "
          f"NSD@{args.tolerance_mm:g}mm {pm(nsd)}, pancreas DSC {pm(m['pancreas_dice'])}")
    det = summary.get("detection")
    if det:
        def num(x):
            return "–" if x is None else f"{x:.3f}"

        print(f"detection: AUROC {num(det['auroc'])}, AP {num(det['average_precision'])}, sensitivity at 1 FP/case "
              f"{num(det['sensitivity_at']['1'])} ({det['n_lesions']} lesions, {det['n_candidates']} candidates)")
    print(f"results: {Path(args.out) / 'cases.csv'}, {Path(args.out) / 'summary.md'}"
          + (f", {Path(args.out) / 'detection.json'}" if det else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="score predicted label maps against references (DSC, NSD, HD95, lesion detection)",
        description="Match PRED/<case>.nii.gz with the reference labels (an MSD-layout dataset — labelsTr/ — "
                    "or a folder of <case>.nii.gz label maps) and write cases.csv, lesions.csv, summary.json "
                    "and summary.md to OUT. Labels: 0 background, 1 pancreas, 2 tumour. NSD uses DeepMind's "
                    "surface-distance definition. Cases whose reference has no tumour are reported apart and "
                    "left out of the tumour means unless --include-empty.")
    p.add_argument("--pred", type=Path, required=True, help="folder of predicted label maps named <case>.nii.gz")
    p.add_argument("--ref", type=Path, required=True, help="reference dataset or folder of label maps")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--tolerance-mm", type=float, default=2.0, help="NSD tolerance in mm (default 2, as the paper)")
    p.add_argument("--size-classes", type=_sizes, default=None, metavar="PRESET|JSON|R1,R2,R3",
                   help="bins for the size breakdown: a size-class preset (syntumor, difftumor), a size-class "
                        "JSON, or ascending cut radii in mm (default: syntumor)")
    p.add_argument("--include-empty", action="store_true",
                   help="include tumour-free reference cases in the tumour DSC/NSD means")
    p.add_argument("--prob", type=Path, default=None, metavar="DIR",
                   help="tumour probability maps <case>.nii.gz (`syntumor predict --probability-out`): adds lesion "
                        "detection in PI-CAI's protocol — FROC, average precision, patient-level AUROC")
    p.add_argument("--det-threshold", type=float, default=0.1,
                   help="lesion candidates: connected components of tumour probability ≥ this")
    p.add_argument("--min-lesion-mm3", type=float, default=10.0, help="candidates smaller than this (mm³) are dropped")
    p.add_argument("--hit-iou", type=float, default=0.1, help="a candidate hits a reference lesion at IoU ≥ this")
    p.set_defaults(func=_run, paths=PathRoles(outputs={"out": "dir"}, inputs=("pred", "ref", "size_classes", "prob")))
