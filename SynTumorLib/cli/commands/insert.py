"""``syntumor insert``: put synthetic tumours into one CT; writes image, label, record and a preview.

Examples::

    syntumor insert --image ct.nii.gz --label seg.nii.gz --size-class medium --seed 7 --out out/
    syntumor insert --image ct.nii.gz --label seg.nii.gz --organ-label 7 --at -20.5,12,95 --size-class small --out out/
    syntumor insert --image ct.nii.gz --label seg.nii.gz --radii-mm 12,9,10 --count 2 --out out/
    syntumor insert --image ct.nii.gz --label seg.nii.gz --replay out/record.json --out again/
    syntumor insert --image ct.nii.gz --label seg.nii.gz --size-class small --texture models/difftumor-pancreas --out dt/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..common import PathRoles, progress_bar


def floats3(text: str) -> tuple[float, float, float]:
    try:
        v = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers x,y,z, got {text!r}") from None
    if len(v) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers x,y,z, got {text!r}")
    return v  # type: ignore[return-value]


def probabilities(text: str) -> dict[str, float]:
    try:
        return {k.strip(): float(v) for k, v in (item.split("=") for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class=weight pairs, e.g. tiny=1,large=3; got {text!r}") from None


def add_size_arguments(p: argparse.ArgumentParser, default_class: str = "medium") -> None:
    p.add_argument("--size-class", default=default_class,
                   help=f"tiny, small, medium, large, mixed or a class of --classes (default {default_class})")
    p.add_argument("--classes", default="syntumor", help="size classes: syntumor, difftumor or a JSON (syntumor sizes analyze)")
    p.add_argument("--probabilities", type=probabilities, default=None, metavar="C=W,...",
                   help="class weights for --size-class mixed, e.g. tiny=1,small=1,medium=1,large=3")
    p.add_argument("--min-inside", type=float, default=0.9, help="min fraction of a tumour in organ + bulge (default 0.9)")
    p.add_argument("--bulge-mm", type=float, default=None,
                   help="how far a tumour may bulge into fat/soft tissue (default: half the class radius; 0 = organ only)")
    p.add_argument("--placement", default="auto", choices=("auto", "random", "point", "reference"),
                   help="auto (point with --at, else random), or reference (the reference code's rule, clipped)")
    p.add_argument("--texture", default="statistical",
                   help="statistical, a fitted texture JSON, or a model folder (SynTumor diffusion or an imported "
                        "DiffTumor one: syntumor models import difftumor)")
    add_texture_options(p)


def add_texture_options(p: argparse.ArgumentParser) -> None:
    """The options of a DiffTumor texture folder (``--texture DIR``)."""
    p.add_argument("--texture-mode", choices=("syntumor", "reference"), default=None,
                   help="DiffTumor texture: syntumor (default: paste inside the feathered tumour only) or reference "
                        "(the whole 96 mm crop replaced, as DiffTumor does)")
    p.add_argument("--texture-recipe", choices=("auto", "early", "noearly"), default=None,
                   help="DiffTumor texture: auto (default: early for tiny/small, non-early for medium/large) or one recipe")


def texture_choice(args) -> object:
    """``--texture`` with the DiffTumor options folded in (a record-style dict when any is given)."""
    from pathlib import Path as _Path

    from ...texture.registry import DIFFTUMOR_KIND, folder_kind
    from ...utils.errors import InputError

    opts = {k: v for k, v in (("mode", getattr(args, "texture_mode", None)),
                              ("recipe", getattr(args, "texture_recipe", None))) if v is not None}
    if not opts:
        return args.texture
    folder = _Path(str(args.texture))
    if not folder.is_dir() or folder_kind(folder) != DIFFTUMOR_KIND:
        raise InputError(f"--texture-mode/--texture-recipe apply to a DiffTumor texture folder; {args.texture} is not one "
                         "(make one with `syntumor models import difftumor`)")
    return {"name": "difftumor", "config": {"folder": str(folder), **opts}}


def _run(args) -> int:
    from ...data.io import read_label_map, read_volume, write_volume
    from ...insertion import insert_tumours, replay
    from ...utils.atomic import write_json_atomic
    from ...utils.errors import InputError
    from ...utils.jsonio import read_json
    from ...viz.overlay import save_slices_png

    image = read_volume(args.image)
    # a replay takes the organ value from its record; label errors name the file
    label = read_label_map(args.label, value=None if args.replay else args.organ_label)
    cb = progress_bar("inserting")
    if args.replay:
        record = read_json(args.replay)
        try:
            out_img, out_lab = replay(image, label, record, progress=cb)
        except InputError as e:  # name the record: it is the file a tampered value came from
            raise InputError(f"{args.replay}: {e}") from None
    else:
        spec = {"size_class": args.size_class, "classes": args.classes, "probabilities": args.probabilities,
                "radii_mm": args.radii_mm, "sigma_mm": args.sigma_mm, "count": args.count,
                "at_ras": args.at, "placement": args.placement, "min_inside": args.min_inside,
                "bulge_mm": args.bulge_mm, "organ_value": args.organ_label}
        out_img, out_lab, record = insert_tumours(image, label, spec, seed=args.seed, texture=texture_choice(args),
                                                  progress=cb)
    args.out.mkdir(parents=True, exist_ok=True)
    write_volume(out_img, args.out / "image.nii.gz")
    write_volume(out_lab, args.out / "label.nii.gz")
    write_json_atomic(args.out / "record.json", record)
    if not args.no_preview:
        save_slices_png(out_img, out_lab, args.out / "preview.png", planes=("axial", "coronal", "sagittal"),
                        title=f"{len(record['tumours'])} synthetic tumour(s), seed {record['seed']}")
    for t in record["tumours"]:
        c = ", ".join(f"{x:.1f}" for x in (t["centre_ras"] or [float('nan')] * 3))
        print(f"tumour {t['class']}: {t['delivered_mm3'] / 1000:.2f} mL (r_eq {t['equivalent_radius_mm']:.1f} mm) "
              f"at RAS ({c}), {t['fraction_in_organ']:.0%} in the organ")
    print(f"wrote {args.out}/image.nii.gz, label.nii.gz, record.json" + ("" if args.no_preview else ", preview.png"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("insert", help="insert synthetic tumours into one CT (image, label, record, preview)",
                       description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", type=Path, required=True, help="CT in HU (NIfTI, NRRD, MHA, DICOM folder)")
    p.add_argument("--label", type=Path, required=True, help="label map with the pancreas (resampled to the image if on another grid)")
    p.add_argument("--organ-label", type=int, default=1, help="pancreas value in --label (1 canonical/MSD, 7 TotalSegmentator, 11 BTCV)")
    add_size_arguments(p)
    p.add_argument("--at", type=floats3, action="append", default=None, metavar="X,Y,Z",
                   help="RAS point (mm) for a tumour centre; repeat for several tumours")
    p.add_argument("--radii-mm", type=floats3, default=None, metavar="A,B,C", help="explicit semi-axes (x, y, z) in mm")
    p.add_argument("--sigma-mm", type=float, default=None, help="explicit elastic boundary σ in mm")
    p.add_argument("--count", type=int, default=None, help="number of tumours (default: the class's count range)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: fresh, written to record.json)")
    p.add_argument("--replay", type=Path, default=None, help="reproduce a record.json bit-for-bit instead of drawing")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--no-preview", action="store_true", help="do not write preview.png")
    p.set_defaults(func=_run, paths=PathRoles(outputs={"out": "dir"},
                                             inputs=("image", "label", "replay", "texture", "classes")))
