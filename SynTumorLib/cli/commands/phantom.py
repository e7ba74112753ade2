"""``syntumor phantom``: write procedural abdominal CT phantoms as an MSD-layout dataset.

Examples::

    syntumor phantom --out phantom_healthy --cases 10 --seed 1
    syntumor phantom --out phantom_tumours --cases 10 --tumours --seed 2 --spacing 0.8 0.8 2.5
    syntumor phantom --out small --cases 4 --spacing 1.5 1.5 1.5 --shape 128 128 128
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..common import PathRoles


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {v}")
    return v


def register(sub) -> None:
    p = sub.add_parser(
        "phantom", help="generate phantom CTs (pancreas, optional tumours) as an MSD dataset",
        description="Generate procedural abdominal CTs in the portal-venous phase — body wall, liver, "
                    "spleen, kidneys, spine, aorta/IVC/mesenteric veins, bowel with gas and a pancreas "
                    "(head, body, tail along the splenic vein) — with labels 0 background / 1 pancreas / "
                    "2 tumour, written in MSD layout (imagesTr, labelsTr, dataset.json, records/). "
                    "Deterministic per seed; re-running the same command skips finished cases.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples::", 1)[1])
    p.add_argument("--out", type=Path, required=True, help="output dataset folder (created or resumed)")
    p.add_argument("--cases", type=_positive_int, default=4, help="number of cases (default 4)")
    p.add_argument("--tumours", nargs="?", const=1, default=0, type=_positive_int, metavar="N",
                   help="add 'real' tumours (label 2): N per case (bare flag: 1)")
    p.add_argument("--seed", type=int, default=None, help="cohort seed (default: a fresh seed, printed and recorded)")
    p.add_argument("--spacing", type=float, nargs=3, default=(1.5, 1.5, 1.5), metavar=("SI", "SJ", "SK"),
                   help="voxel size i j k in mm (default 1.5 1.5 1.5)")
    p.add_argument("--shape", type=int, nargs=3, default=None, metavar=("NI", "NJ", "NK"),
                   help="voxels along i j k (default: 360×300×200 mm field of view; a smaller field of "
                        "view is centred on the pancreas)")
    p.add_argument("--name", default="SynTumorPhantom", help="dataset name in dataset.json")
    p.add_argument("--prefix", default="phantom", help="case id prefix (default: phantom → phantom_000)")
    p.set_defaults(func=run, paths=PathRoles(outputs={"out": "dir"}))


def run(args) -> int:
    from ...data.phantom import generate_cohort
    from ...utils.errors import InputError
    from ...utils.seeding import fresh_seed

    if args.cases < 1:
        raise InputError("--cases must be at least 1")
    seed = args.seed if args.seed is not None else fresh_seed()
    from tqdm.auto import tqdm

    bar = tqdm(total=args.cases, desc="phantom", unit="case", disable=not sys.stderr.isatty(), dynamic_ncols=True)

    def progress(fraction: float, message: str = "") -> None:
        bar.n = round(fraction * args.cases)
        bar.set_postfix_str(message, refresh=True)

    try:
        out = generate_cohort(args.out, args.cases, seed, tumours=args.tumours, spacing=args.spacing,
                              shape=args.shape, name=args.name, progress=progress, case_prefix=args.prefix)
    finally:
        bar.close()
    print(f"wrote {args.cases} phantom case(s) to {out} (seed {seed}, tumours per case {args.tumours})")
    return 0
