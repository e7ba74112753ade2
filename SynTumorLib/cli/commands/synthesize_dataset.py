"""``syntumor synthesize-dataset``: an offline synthetic dataset (MSD layout, one record per case).

Examples::

    syntumor synthesize-dataset --healthy ~/data/NIH_Pancreas-CT --classes mixed --per-case 2 --out syn/ --workers 2
    syntumor synthesize-dataset --healthy phantom/ --classes large --size-classes sizes/size_classes.json --out syn_large/

Re-running the same command resumes: finished cases are skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..common import PathRoles


def _run(args) -> int:
    from ...insertion.dataset import synthesize_dataset
    from ..common import progress_bar
    from .insert import texture_choice

    spec = {"min_inside": args.min_inside, "bulge_mm": args.bulge_mm, "placement": args.placement}
    res = synthesize_dataset(args.healthy, args.out, classes=args.classes, per_case=args.per_case, seed=args.seed,
                             workers=args.workers, progress=progress_bar("synthesising"),
                             size_classes=args.size_classes, probabilities=args.probabilities,
                             texture=texture_choice(args), spec=spec)
    print(f"{res['written']} cases written, {res['skipped']} already there, {res['failed']} failed → {res['out']}")
    for case_id, err in list(res["errors"].items())[:10]:
        print(f"  failed {case_id}: {err}")
    return 0 if res["failed"] == 0 else 1


def register(sub) -> None:
    from .insert import add_texture_options, probabilities

    p = sub.add_parser("synthesize-dataset", help="healthy CTs + synthetic tumours → MSD-layout dataset with records",
                       description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--healthy", type=Path, required=True, help="dataset of healthy CTs with pancreas labels (any layout)")
    p.add_argument("--out", type=Path, required=True, help="output dataset folder (resumed when it exists)")
    p.add_argument("--classes", default="mixed", help="size class of every case: tiny, small, medium, large or mixed")
    p.add_argument("--size-classes", default="syntumor", help="size-class set: syntumor, difftumor or a JSON")
    p.add_argument("--probabilities", type=probabilities, default=None, metavar="C=W,...", help="class weights for mixed")
    p.add_argument("--per-case", type=int, default=1, help="synthetic variants per healthy case (default 1)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    p.add_argument("--min-inside", type=float, default=0.9, help="min fraction of each tumour in organ + bulge")
    p.add_argument("--bulge-mm", type=float, default=None, help="bulge into fat/soft tissue (default half the class radius)")
    p.add_argument("--placement", default="random", choices=("random", "reference"), help="placement rule")
    p.add_argument("--texture", default="statistical",
                   help="statistical, a fitted texture JSON or a model folder (SynTumor diffusion or imported DiffTumor)")
    add_texture_options(p)
    p.set_defaults(func=_run, paths=PathRoles(outputs={"out": "dir"}, inputs=("healthy", "size_classes", "texture")))
