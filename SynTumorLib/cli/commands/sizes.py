"""``syntumor sizes show|analyze``: tumour size classes (presets, custom JSON, quartiles of real data).

Examples::

    syntumor sizes show syntumor
    syntumor sizes analyze ~/data/Task07_Pancreas --out sizes/
    syntumor insert --image ct.nii.gz --label seg.nii.gz --classes sizes/size_classes.json --size-class large ...
"""

from __future__ import annotations

from pathlib import Path

from ..common import PathRoles


def _show(args) -> int:
    from ...geometry.sizes import load_size_classes

    sizes = load_size_classes(args.classes)
    print(f"size classes {sizes.name!r} (mm; nominal = 4/3·π·r³)\n")
    print(sizes.table())
    return 0


def _analyze(args) -> int:
    from ...geometry.size_analysis import analyze_dataset, write_analysis
    from ..common import progress_bar

    result = analyze_dataset(args.dataset, progress=progress_bar("measuring tumours"))
    paths = write_analysis(result, args.out)
    q = result["quartiles_radius_mm"]
    print(f"{result['n_tumours']} tumours in {result['n_cases']} cases; equivalent-radius quartiles "
          f"{q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} mm")
    print(paths["md"].read_text(encoding="utf-8").split("\n\n", 2)[-1])
    for kind, p in paths.items():
        print(f"wrote {kind}: {p}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("sizes", help="tumour size classes: show presets, derive classes from real tumours",
                       description=__doc__.split("\n\n")[0])
    ssub = p.add_subparsers(dest="sizes_command", metavar="ACTION")
    ssub.required = True
    s = ssub.add_parser("show", help="print a size-class set as a table")
    s.add_argument("classes", nargs="?", default="syntumor", help="preset (syntumor, difftumor) or a size-class JSON")
    s.set_defaults(func=_show)
    a = ssub.add_parser("analyze", help="quartiles of real tumour sizes → size-class JSON, histogram, table",
                        description="Measure every tumour component (mm³) of a labelled dataset, convert to "
                                    "equivalent radius, cut at the quartiles into tiny/small/medium/large.")
    a.add_argument("dataset", type=Path, help="labelled dataset folder (MSD, nnU-Net, folder, ...)")
    a.add_argument("--out", type=Path, required=True, help="output folder (size_classes.json, .md, .csv, .png)")
    a.set_defaults(func=_analyze, paths=PathRoles(outputs={"out": "dir"}, inputs=("dataset",)))
