"""``syntumor dataset check|list|export-nnunet``: inspect, validate and convert datasets.

Examples::

    syntumor dataset list ~/data/Task07_Pancreas
    syntumor dataset check ~/data/Task07_Pancreas --json check.json
    syntumor dataset export-nnunet ~/data/Task07_Pancreas --out ~/nnUNet_raw --id 501 --name PancreasSyn
    syntumor dataset export-nnunet ~/data/Task07_Pancreas --synthetic runs/syn_large --out ~/nnUNet_raw --id 502 --name PancreasPlusSyn
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..common import PathRoles, add_dataset_options, dataset_options, progress_bar


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="dataset folder")
    add_dataset_options(p)


def _open(args):
    from ...data.datasets import open_dataset

    return open_dataset(args.path, **dataset_options(args))


def _check(args) -> int:
    from ...data.check import check_dataset
    from ...utils.atomic import write_json_atomic, write_text_atomic

    ds = _open(args)  # the outputs were checked to lie outside it (PathRoles below)
    report = check_dataset(ds, progress=progress_bar("checking"))
    print(report.to_markdown(), end="")
    if args.json:
        write_json_atomic(args.json, report.to_dict())
    if args.markdown:
        write_text_atomic(args.markdown, report.to_markdown())
    return 0 if report.ok else 1


def _list(args) -> int:
    ds = _open(args)
    labels = ", ".join(f"{k}→{v}" for k, v in sorted(ds.label_map.items()))
    print(f"# {ds.kind} dataset {ds.root}: {len(ds.cases())} cases, {len(ds.test_cases())} test cases; "
          f"labels (source→canonical) {labels}{', other values → 0' if ds.others_to_background else ''}")
    for c in ds.cases() + ds.test_cases():
        print(f"{c.case_id}\t{c.image}\t{c.label if c.label is not None else '-'}")
    return 0


def _export(args) -> int:
    from ...data.nnunet_export import export_nnunet

    ds = _open(args)
    folder = export_nnunet(ds, args.out, args.id, args.name, cases=args.cases, test_cases=args.test_cases,
                           synthetic=args.synthetic, noisy=args.noisy, progress=progress_bar("exporting"))
    print(folder)
    return 0


def register(sub) -> None:
    p = sub.add_parser("dataset", help="list, check or export a dataset (MSD, NIH, BTCV, TotalSegmentator, folder)",
                       description="List, validate and convert pancreas CT datasets. Labels are mapped to "
                                   "0 background / 1 pancreas / 2 tumour.")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True

    c = dsub.add_parser("check", help="validate every case and print a summary (exit 1 when errors are found)",
                        description="Validate a dataset: missing/unreadable files, 2-D/4-D images, NaN, image/"
                                    "label grid mismatch, unexpected label values, empty pancreas. Prints a "
                                    "summary table; exit code 0 ok, 1 errors found, 2 unusable input.")
    _add_source(c)
    c.add_argument("--json", type=Path, help="also write the full report as JSON here")
    c.add_argument("--markdown", type=Path, help="also write the report as Markdown here")
    c.set_defaults(func=_check, paths=PathRoles(outputs={"json": "file", "markdown": "file"}, inputs=("path",)))

    lst = dsub.add_parser("list", help="print the cases (id, image, label) of a dataset")
    _add_source(lst)
    lst.set_defaults(func=_list)

    e = dsub.add_parser("export-nnunet", help="write an nnU-Net v2 raw dataset (DatasetNNN_Name)",
                        description="Export to nnU-Net v2 raw format: imagesTr/<case>_0000.nii.gz, labelsTr/, "
                                    "dataset.json, syntumor_sources.json. Optionally add an offline synthetic "
                                    "dataset (cases named syn_<case>) and/or take the training labels from a "
                                    "noisy-label dataset. Re-running resumes an interrupted export; cases no "
                                    "longer selected are removed.")
    _add_source(e)
    e.add_argument("--out", type=Path, required=True, help="nnU-Net raw folder (nnUNet_raw)")
    e.add_argument("--id", type=int, required=True, help="dataset id 1..999 (e.g. 501)")
    e.add_argument("--name", required=True, help="dataset name, e.g. PancreasSyn")
    e.add_argument("--cases", nargs="+", default=None, metavar="ID", help="training case ids (default: all labelled)")
    e.add_argument("--test-cases", nargs="+", default=None, metavar="ID", help="case ids for imagesTs")
    e.add_argument("--synthetic", type=Path, default=None, metavar="DIR",
                   help="offline synthetic dataset: every case is added to training as syn_<case>")
    e.add_argument("--noisy", type=Path, default=None, metavar="DIR",
                   help="noisy-label dataset: each training case takes its label from the same case id there")
    # export_nnunet checks the folder it writes (OUT/DatasetNNN_Name) against the inputs: an nnUNet_raw
    # folder may hold the source dataset beside the new one
    e.set_defaults(func=_export, paths=PathRoles(outputs={"out": "dir"}))
