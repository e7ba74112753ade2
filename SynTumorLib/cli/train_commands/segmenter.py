"""``syntumor train segmenter`` — train a U-Net, DynUNet (nnU-Net architecture) or SwinUNETR.

Either a full JSON config (``--config``; every key: docs/reference/config.md) or the common options
on the command line; options given with ``--config`` override the file. Under ``torchrun`` the same
command trains with DDP on every process::

    syntumor train segmenter --dataset Task07 --healthy NIH --arm large --model unet --out models/unet-large
    torchrun --nproc_per_node 4 -m SynTumorLib train segmenter --config cfg.json --out models/x
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...runtime.devices import DEVICE_HELP
from ..common import PathRoles

PRESETS = Path(__file__).resolve().parents[2] / "segmentation" / "configs"


def register(tsub) -> None:
    p = tsub.add_parser(
        "segmenter",
        help="train a tumour segmenter (unet, dynunet, swinunetr) — CPU, GPU or torchrun DDP",
        description="Train a pancreas/tumour segmenter from a JSON config or command-line options. "
        f"Preset configs: {', '.join(sorted(q.stem for q in PRESETS.glob('*.json')))} (--config NAME).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", help="training config JSON (a path or a preset name such as tiny-cpu)")
    p.add_argument("--dataset", help="real-tumour dataset folder (MSD layout or any open_dataset kind)")
    p.add_argument("--healthy", help="healthy dataset folder that receives online synthetic tumours")
    p.add_argument("--arm", help="synthetic size arm: none|tiny|small|medium|large|mixed|SIZES.json")
    p.add_argument("--size-classes", help="classes the arm is drawn from: syntumor (default), difftumor or a "
                                          "size-class JSON (`syntumor sizes analyze`)")
    p.add_argument("--synthetic-dataset", help="offline synthetic dataset folder (all cases used for training)")
    p.add_argument("--noisy-labels", help="copy of --dataset with corrupted labels to train on")
    p.add_argument("--model", choices=("unet", "dynunet", "swinunetr"), help="network")
    p.add_argument("--iterations", type=int, help="training steps")
    p.add_argument("--batch-size", type=int, help="crops per step and process")
    p.add_argument("--crop-size", type=int, nargs="+", help="crop size (one number or three, k j i)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--device", help="training device (default: the config's): " + DEVICE_HELP)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--out", required=True, help="model folder to write")
    p.set_defaults(func=run, paths=PathRoles(outputs={"out": "dir"}, inputs=(
        "config", "dataset", "healthy", "arm", "size_classes", "synthetic_dataset", "noisy_labels")))


def build_config(args):
    """Merge the config file and the command-line options into a TrainConfig."""
    from ...segmentation.config import TrainConfig
    from ...utils.errors import InputError
    from ...utils.jsonio import read_json

    d: dict = {}
    if args.config:
        path = Path(args.config)
        if not path.exists() and (PRESETS / f"{args.config}.json").exists():
            path = PRESETS / f"{args.config}.json"
        d = read_json(path)
        if not isinstance(d, dict):
            raise InputError(f"{path}: a training config must be a JSON object")
    elif not (args.dataset or args.healthy or args.synthetic_dataset):
        raise InputError("give --config or at least --dataset (or --healthy / --synthetic-dataset)")
    data = dict(d.get("data") or {})
    for opt, key in (("dataset", "real"), ("healthy", "healthy"), ("arm", "arm"), ("size_classes", "size_classes"),
                     ("synthetic_dataset", "offline_synthetic"), ("noisy_labels", "noisy_labels")):
        if getattr(args, opt) is not None:
            data[key] = getattr(args, opt)
    d["data"] = data
    if args.model and args.model != (d.get("model") or {}).get("name"):
        d["model"] = {"name": args.model, "args": {}}
    for opt, key in (("iterations", "iterations"), ("batch_size", "batch_size"), ("seed", "seed"), ("device", "device")):
        if getattr(args, opt) is not None:
            d[key] = getattr(args, opt)
    if args.iterations is not None:
        d["epochs"] = None
    if args.crop_size:
        if len(args.crop_size) not in (1, 3):
            raise InputError(f"--crop-size takes one or three numbers, got {args.crop_size}")
        d["crop_size"] = args.crop_size * 3 if len(args.crop_size) == 1 else args.crop_size
    return TrainConfig.from_dict(d, source=str(args.config or "command line"))


def run(args) -> int:
    import os

    from ...segmentation.train import train
    from ...utils.progress import filter_progress_printer

    cfg = build_config(args)
    from ...utils.paths import ensure_outside

    # the datasets may come from --config: check them too (the options were checked by PathRoles)
    data = cfg.data
    ensure_outside(args.out, *(data.get(k) for k in ("real", "healthy", "offline_synthetic", "noisy_labels")
                               if isinstance(data.get(k), str)), what="output (--out)")
    rank = int(os.environ.get("RANK", "0"))
    bar = None
    if rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=1000, desc="training", unit="‰", dynamic_ncols=True, bar_format="{l_bar}{bar}| {postfix}",
                   disable=not sys.stderr.isatty())
    slicer = os.environ.get("SYNTUMOR_FILTER_PROGRESS") == "1"
    printer = filter_progress_printer() if slicer else None

    def progress(fraction: float, message: str) -> None:
        if bar is not None:
            bar.n = int(fraction * 1000)
            bar.set_postfix_str(message, refresh=True)
        if printer is not None and rank == 0:
            printer(fraction, message)

    try:
        folder = train(cfg, args.out, resume=args.resume, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if rank == 0:
        print(f"model folder: {folder}")
    return 0
