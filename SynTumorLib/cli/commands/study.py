"""``syntumor study run|list|tables``: the paper's tables as runnable, resumable studies.

Examples::

    syntumor study list
    syntumor study run smoke-table1 --out runs/smoke1
    syntumor study run paper-table1 --out runs/table1 --set datasets.real=/data/Task07_Pancreas \\
        --set 'datasets.healthy=["/data/Pancreas-CT","/data/BTCV"]' --only 'unet-*'
"""

from __future__ import annotations

from pathlib import Path

from ..common import PathRoles


def _run(args) -> int:
    from ...experiments.spec import load_spec
    from ...experiments.study import run_study
    from .nnunet import progress_bar

    spec = load_spec(args.spec, args.set)
    res = run_study(spec, args.out, only=args.only, dry_run=args.dry_run, jobs=args.jobs,
                    progress=None if args.dry_run else progress_bar(f"study {spec.name}"))
    if args.dry_run:
        print(f"study {spec.name}: {len(res['runs'])} run(s); data: real={res['datasets']['real']} "
              f"healthy={res['datasets']['healthy']}")
        for r in res["runs"]:
            print(f"  {r['status']:8s} {r['arm']:28s} {r['split']}")
        return 0
    ran = sum(1 for r in res["runs"] if r["status"] == "ran")
    print(f"study {spec.name}: {ran} run(s) trained, {len(res['runs']) - ran} already done; {res['wall_s']:.0f} s")
    print(Path(res["outputs"]["table_md"]).read_text(), end="")
    for key in ("results_csv", "comparisons_csv", "detection_csv", "table_html", "plot_png", "froc_png"):
        if key in res["outputs"]:
            print(res["outputs"][key])
    return 0


def _list(args) -> int:
    from ...experiments.spec import load_spec

    for p in sorted((Path(__file__).resolve().parents[2] / "experiments" / "specs").glob("*.json")):
        spec = load_spec(p)
        print(f"{p.stem:20s} {len(spec.arms):3d} arms × {len(spec.seeds)} seed(s)  {spec.title}")
    return 0


def _tables(args) -> int:
    from ...experiments.spec import StudySpec
    from ...experiments.tables import write_outputs
    from ...utils.jsonio import read_json

    spec = StudySpec.from_dict(read_json(Path(args.out) / "spec.json"))
    outputs = write_outputs(spec, args.out)
    print(Path(outputs["table_md"]).read_text(), end="")
    return 0


def register(sub) -> None:
    p = sub.add_parser("study", help="run the paper's tables (or your own study spec) and write the tables",
                       description="Train and evaluate every arm (model × synthetic size arm × noise level) × seed of a "
                                   "study spec, skipping finished arms, then write results.csv, arms.csv, table.md/.html "
                                   "(laid out like the paper's Tables 1–3, with 95 % CIs, the paired comparisons against "
                                   "each baseline and one sentence per hypothesis), comparisons.csv, detection.csv "
                                   "(FROC, AP, AUROC), dsc_by_arm.png and froc.png.")
    ssub = p.add_subparsers(dest="action", metavar="ACTION")
    ssub.required = True
    r = ssub.add_parser("run", help="run a study spec (a JSON file or a shipped spec name)")
    r.add_argument("spec", help="spec JSON path, or a shipped spec: smoke-table1, smoke-table2-3, paper-table1, "
                                "paper-table2-3")
    r.add_argument("--out", type=Path, required=True, help="study output folder (re-running resumes)")
    r.add_argument("--only", nargs="+", metavar="ARM", help="run only these arms (ids or patterns like 'unet-*')")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a spec value, e.g. datasets.real=/data/Task07_Pancreas or budget.iterations=500")
    r.add_argument("--dry-run", action="store_true", help="validate the spec and list the runs; train nothing")
    r.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train N runs at once, one process each (CPU: up to the number of cores; results are the "
                        "same as serial)")
    r.set_defaults(func=_run, paths=PathRoles(outputs={"out": "dir"}, inputs=("spec",)))
    ls = ssub.add_parser("list", help="list the shipped study specs")
    ls.set_defaults(func=_list)
    t = ssub.add_parser("tables", help="rewrite the tables, paired comparisons and plots of a study folder from its "
                                       "finished runs")
    t.add_argument("--out", type=Path, required=True, help="the study output folder")
    t.set_defaults(func=_tables, paths=PathRoles(outputs={"out": "dir"}))
