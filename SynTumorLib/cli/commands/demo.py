"""``syntumor demo``: the whole study on the built-in phantom — cohort, size classes, synthetic
tumours, a trained diffusion texture and its quality, label noise, every arm of Tables 1–3 trained
and evaluated, and report.html.

Examples::

    syntumor demo                              # small budget into ./demo_out
    syntumor demo --out /tmp/demo --budget tiny --seed 7
    syntumor demo --texture-model demo_out/texture/model --out demo2   # measure a trained texture, no training
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..common import PathRoles, progress_bar


def register(sub) -> None:
    from ...demo.pipeline import BUDGETS

    p = sub.add_parser(
        "demo", help="run the demo pipeline on the built-in phantom and write report.html",
        description="On the built-in phantom: generate 'real' tumour and healthy cohorts and split them, derive "
                    "size classes from the tumour-size quartiles, insert synthetic tumours of every class, train the "
                    "latent-diffusion texture on the training split and compare it with the statistical texture on "
                    "the test tumours' healthy twins, corrupt the labels at four levels, train a small U-Net on every arm of the paper's Tables 1-3 (study "
                    "runner), evaluate on the test cases (DSC, NSD 2 mm, lesion sensitivity, by size class) and write "
                    "report.html. Stages are resumable: re-running skips finished ones. Phantom figures are not "
                    "clinical results.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("Examples::", 1)[1])
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default ./demo_out)")
    p.add_argument("--budget", choices=list(BUDGETS), default="small",
                   help="tiny: a check of the whole chain (learns nothing; what the tests run); small: the default, "
                        "sized for a laptop CPU; full: a GPU machine. Measured times: docs/results/demo.md")
    p.add_argument("--seed", type=int, default=0, help="master seed of the run (default 0)")
    p.add_argument("--texture-model", type=Path, metavar="DIR",
                   help="a diffusion texture model folder (syntumor train diffusion, or a demo's texture/model) to "
                        "measure instead of training one in the texture stage")
    p.set_defaults(func=run, paths=PathRoles(outputs={"out": "dir"}, inputs=("texture_model",)))


def _bars():
    # one bar per stage, kept on screen so the terminal shows every stage's duration at the end
    return lambda stage: progress_bar(stage, leave=True)


def run(args) -> int:
    from ...demo.pipeline import run_demo

    ctx = run_demo(args.out, budget=args.budget, seed=args.seed, progress_factory=_bars(),
                   log=lambda s: print(s, flush=True), texture_model=args.texture_model)
    chk = ctx.results.get("check", {})
    failed = [k for k in ("real_tumours", "healthy") if k in chk and not chk[k]["ok"]]
    print(f"report: {ctx.out / 'report.html'}")
    print("stage seconds (wall / CPU): " + ", ".join(f"{k} {v:.1f}/{ctx.cpu_seconds.get(k, 0.0):.1f}"
                                                   for k, v in ctx.seconds.items()))
    if not chk.get("available", True):
        print(f"warning: {chk.get('message')}", file=sys.stderr)
    if failed:
        print(f"dataset check failed for: {', '.join(failed)} (see the report)", file=sys.stderr)
        return 1
    return 0
