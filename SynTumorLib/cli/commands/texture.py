"""``syntumor texture fit``: fit the statistical tumour-texture model to a labelled dataset.

Example::

    syntumor texture fit ~/data/Task07_Pancreas --out texture.json
    syntumor insert --image ct.nii.gz --label seg.nii.gz --texture texture.json --out out/
"""

from __future__ import annotations

from pathlib import Path

from ..common import PathRoles


def _fit(args) -> int:
    from ...texture.fit import fit_texture
    from ...utils.atomic import write_json_atomic
    from ..common import progress_bar

    result = fit_texture(args.dataset, max_cases=args.max_cases, progress=progress_bar("fitting texture"))
    write_json_atomic(args.out, result)
    p = result["params"]
    print(f"fitted on {result['n_cases']} cases with tumours: contrast {p['contrast_hu'][0]:.0f}–{p['contrast_hu'][1]:.0f} HU, "
          f"texture std {p['texture_std_hu'][0]:.1f}–{p['texture_std_hu'][1]:.1f} HU, "
          f"scale {p['texture_scale_mm'][0]:.1f}–{p['texture_scale_mm'][1]:.1f} mm")
    print(f"wrote {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("texture", help="tumour texture models (fit the statistical model to data)",
                       description=__doc__.split("\n\n")[0])
    tsub = p.add_subparsers(dest="texture_command", metavar="ACTION")
    tsub.required = True
    f = tsub.add_parser("fit", help="fit tumour-vs-pancreas HU statistics and texture scale → JSON",
                        description="Fit the statistical texture (contrast to the surrounding pancreas, "
                                    "heterogeneity std and correlation scale) from cases with tumour labels.")
    f.add_argument("dataset", type=Path, help="labelled dataset with tumours (label 2)")
    f.add_argument("--out", type=Path, required=True, help="output JSON (use with --texture)")
    f.add_argument("--max-cases", type=int, default=None, help="use at most N cases with tumours")
    f.set_defaults(func=_fit, paths=PathRoles(outputs={"out": "file"}, inputs=("dataset",)))
