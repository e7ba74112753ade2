"""``syntumor nnunet train|predict``: the real nnU-Net v2, driven from our datasets and budget.

Examples::

    syntumor nnunet train --dataset ~/data/Task07_Pancreas --synthetic ~/syn/large --work runs/nnunet_large --id 501
    syntumor nnunet train --dataset phantom/ --work /tmp/nn --id 502 --epochs 1 --iters 3 --device cpu
    syntumor nnunet predict --work runs/nnunet_large --images ~/data/Task07_Pancreas --out runs/nnunet_large/pred
"""

from __future__ import annotations

from pathlib import Path

from ...runtime.devices import DEVICE_HELP
from ..common import PathRoles, progress_bar


def _read_ids(text: str | None) -> list[str] | None:
    """Case ids from ``a,b,c`` or from a file with one id per line (``@file``)."""
    if text is None:
        return None
    if text.startswith("@"):
        from ...utils.errors import InputError

        path = Path(text[1:])
        if not path.is_file():
            raise InputError(f"{path}: case-list file not found")
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [t.strip() for t in text.split(",") if t.strip()]


def _train(args) -> int:
    from ...segmentation.nnunet import NNUNetConfig, train_nnunet
    from ...utils.jsonio import read_json

    cfg = read_json(args.config) if args.config else {}
    overrides = {"dataset_id": args.id, "name": args.name, "configuration": args.configuration, "fold": args.fold,
                 "epochs": args.epochs, "iterations_per_epoch": args.iters, "val_iterations_per_epoch": args.val_iters,
                 "device": args.device, "seed": args.seed, "da_processes": args.da_processes}
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    config = NNUNetConfig.from_dict(cfg)
    folder = train_nnunet(args.dataset, args.work, config, synthetic=args.synthetic, noisy=args.noisy,
                          train_cases=_read_ids(args.train_cases), val_cases=_read_ids(args.val_cases),
                          progress=progress_bar("nnU-Net"))
    print(folder)
    return 0


def _predict(args) -> int:
    from ...segmentation.nnunet import predict_nnunet

    tta = None if args.tta is None else args.tta == "on"
    written = predict_nnunet(args.work, args.images, args.out, case_ids=_read_ids(args.cases), device=args.device,
                             tta=tta, progress=progress_bar("nnU-Net predict"))
    print(f"{len(written)} predictions in {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("nnunet", help="train / predict with the real nnU-Net v2 (exported from our datasets)",
                       description="Run nnU-Net v2 (plan, preprocess, train, predict) through its Python API in a "
                                   "child process, with nnUNet_raw/_preprocessed/_results inside --work. The budget "
                                   "(epochs, iterations) is set on nnU-Net's stock trainer — no trainer subclasses.")
    nsub = p.add_subparsers(dest="action", metavar="ACTION")
    nsub.required = True

    t = nsub.add_parser("train", help="export, plan/preprocess and train",
                        description="Export --dataset (+ --synthetic cases, or with labels from --noisy) to nnU-Net raw "
                                    "format in --work, plan and preprocess 3d_fullres, and train. Re-running with the "
                                    "same settings resumes (training continues from checkpoint_latest).")
    t.add_argument("--dataset", type=Path, required=True, help="real-tumour dataset (MSD layout or any supported kind)")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--synthetic", type=Path, help="offline synthetic dataset added to training (ids prefixed syn_)")
    src.add_argument("--noisy", type=Path, help="dataset whose labels replace the real ones (same case ids)")
    t.add_argument("--work", type=Path, required=True, help="work folder (nnU-Net folders, logs, settings)")
    t.add_argument("--id", type=int, default=None, help="nnU-Net dataset id 1..999 (default 501)")
    t.add_argument("--name", default=None, help="nnU-Net dataset name (default SynTumor)")
    t.add_argument("--config", type=Path, help="JSON with NNUNetConfig keys (flags override it)")
    t.add_argument("--configuration", default=None, help="nnU-Net configuration (default 3d_fullres)")
    t.add_argument("--fold", default=None, help="0..4 or all (default 0)")
    t.add_argument("--epochs", type=int, default=None, help="epochs (nnU-Net default 1000)")
    t.add_argument("--iters", type=int, default=None, help="training iterations per epoch (default 250)")
    t.add_argument("--val-iters", type=int, default=None, help="validation iterations per epoch (default 50)")
    t.add_argument("--device", default=None, help=DEVICE_HELP + "; default auto")
    t.add_argument("--seed", type=int, default=None, help="seed of the training process (default 0)")
    t.add_argument("--da-processes", type=int, default=None,
                   help="augmentation worker processes (0 = none, good for 2-core machines; default nnU-Net's)")
    t.add_argument("--train-cases", default=None, metavar="IDS|@FILE", help="real training case ids (default all)")
    t.add_argument("--val-cases", default=None, metavar="IDS|@FILE",
                   help="validation case ids (fold 0 = exactly this split; default a seeded 5-fold split)")
    t.set_defaults(func=_train, paths=PathRoles(outputs={"work": "dir"}, inputs=("dataset", "synthetic", "noisy", "config")))

    pr = nsub.add_parser("predict", help="predict label maps with a trained run",
                         description="Predict OUT/<case>.nii.gz (0/1/2 on each input's grid) for the images in --images "
                                     "(a folder of CT volumes or a dataset folder).")
    pr.add_argument("--work", type=Path, required=True, help="the work folder of `syntumor nnunet train`")
    pr.add_argument("--images", type=Path, required=True, help="folder of CTs (<case>.nii.gz) or a dataset")
    pr.add_argument("--out", type=Path, required=True, help="output folder")
    pr.add_argument("--cases", default=None, metavar="IDS|@FILE", help="predict only these case ids")
    pr.add_argument("--device", default=None, help="override the run's device: " + DEVICE_HELP)
    pr.add_argument("--tta", choices=("on", "off"), default=None, help="mirror test-time augmentation (default: run's)")
    # predict_nnunet also keeps --out outside the trained model (WORK/nnUNet_results/...)
    pr.set_defaults(func=_predict, paths=PathRoles(outputs={"out": "dir"}, inputs=("images",)))
