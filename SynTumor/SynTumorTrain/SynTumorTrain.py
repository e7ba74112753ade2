#!/usr/bin/env python-real
"""SynTumorTrain — Slicer CLI module (Execution Model: SynTumorTrain.xml) that trains a segmenter.

Runs three ways with the same arguments:

* from Slicer's CLI module GUI or ``slicer.cli.run(slicer.modules.syntumortrain, None, params)``;
* as a plain script: ``python SynTumorTrain.py --dataset D --out M --iterations 200 --dryRun``;
* ``SynTumorTrain.py --xml`` prints the Execution Model description (what Slicer asks for).

The argument parser is built from the XML next to this file, so the two cannot drift apart, and it
accepts arguments exactly as Slicer passes them: ``--flag value`` pairs, booleans as a *bare* flag
(``--resume``) or with a value (``--resume true``, as ctk-cli writes them). Progress goes to stdout
as ``<filter-progress>`` lines, which Slicer turns into its progress bar. Bad arguments end with a
one-line message on stderr and exit code 2; nothing is imported from torch before they are checked.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
XML_PATH = HERE / "SynTumorTrain.xml"
NAME = "SynTumorTrain"
TYPES = {"integer": int, "float": float, "double": float}
PATH_TAGS = ("directory", "file", "image")
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _import_library() -> None:
    """Make ``SynTumorLib`` importable: installed extension (…/cli-modules next to
    …/qt-scripted-modules, where the library is packaged) or the source tree (repository root)."""
    try:
        import SynTumorLib  # noqa: F401
        return
    except ImportError:
        pass
    for candidate in (HERE.parent / "qt-scripted-modules", HERE.parents[1]):
        if (candidate / "SynTumorLib" / "__init__.py").is_file():
            sys.path.insert(0, str(candidate))
            return


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in TRUE:
        return True
    if t in FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser(xml_path: Path = XML_PATH) -> argparse.ArgumentParser:
    """An argparse parser with one option per ``<longflag>`` parameter of the Execution Model XML."""
    root = ET.parse(xml_path).getroot()
    # no abbreviations: Slicer always writes each long flag in full, so anything else is a mistake
    parser = argparse.ArgumentParser(prog=NAME, description=(root.findtext("description") or "").strip(),
                                     allow_abbrev=False)
    parser.add_argument("--xml", action="store_true", help="print the Execution Model XML and exit")
    for group in root.iter("parameters"):
        g = parser.add_argument_group(group.findtext("label") or "")
        for p in group:
            flag = p.findtext("longflag")
            if flag is None:
                continue
            dest = p.findtext("name")
            helptext = " ".join((p.findtext("description") or "").split())
            opt = "--" + flag.lstrip("-")
            default = p.findtext("default")
            if p.tag == "boolean":
                g.add_argument(opt, dest=dest, nargs="?", const=True, default=_bool(default or "false"),
                               type=_bool, metavar="BOOL", help=helptext)
            elif p.tag.endswith("-enumeration"):
                g.add_argument(opt, dest=dest, choices=[e.text for e in p.findall("element")], default=default,
                               help=helptext)
            else:
                conv = TYPES.get(p.tag, str)
                g.add_argument(opt, dest=dest, type=conv, default=None if default is None else conv(default),
                               help=helptext)
    return parser


def _fail(message: str) -> int:
    print(f"{NAME}: error: {message}", file=sys.stderr, flush=True)
    return 2


def _given(path: str | None) -> bool:
    return bool(path and path.strip())


def check_args(args: argparse.Namespace) -> str | None:
    """The first problem with the arguments (None when they are usable)."""
    if not _given(args.dataset):
        return "--dataset is required (a dataset folder with real tumours)"
    if not Path(args.dataset).is_dir():
        return f"--dataset: folder not found: {args.dataset}"
    if _given(args.healthy) and not Path(args.healthy).is_dir():
        return f"--healthy: folder not found: {args.healthy}"
    if _given(args.config) and not Path(args.config).is_file():
        return f"--config: file not found: {args.config}"
    if not _given(args.outputFolder):
        return "--out is required (the model folder to write)"
    if Path(args.outputFolder).exists() and not Path(args.outputFolder).is_dir():
        return f"--out: {args.outputFolder} exists and is not a folder"
    for name, lo in (("iterations", 1), ("batchSize", 1), ("cropSize", 8)):
        if getattr(args, name) is not None and getattr(args, name) < lo:
            return f"--{name}: must be ≥ {lo}, got {getattr(args, name)}"
    if args.arm != "none" and not _given(args.healthy):
        return f"--arm {args.arm} needs --healthy (the healthy CTs that receive synthetic tumours)"
    return None


def _scaled(progress, lo: float, hi: float):
    return lambda f, m="": progress(lo + (hi - lo) * max(0.0, min(1.0, f)), m)


def run(args: argparse.Namespace) -> int:
    from SynTumorLib.cli.train_commands.segmenter import build_config
    from SynTumorLib.utils.progress import filter_progress_printer

    out = Path(args.outputFolder)
    progress = filter_progress_printer()
    noisy = None
    if args.noiseLevel != "none":
        noisy = out / f"noisy-labels-{args.noiseLevel}"
    ns = argparse.Namespace(
        config=args.config if _given(args.config) else None,
        dataset=args.dataset, healthy=args.healthy if _given(args.healthy) else None,
        arm=args.arm, size_classes=args.sizeClasses if _given(args.sizeClasses) else None, synthetic_dataset=None, noisy_labels=str(noisy) if noisy else None,
        model=args.model, iterations=args.iterations, batch_size=args.batchSize,
        crop_size=[args.cropSize] if args.cropSize else None, seed=args.seed, device=args.device,
        resume=args.resume, out=str(out),
    )
    cfg = build_config(ns)
    if args.dryRun:
        import json

        progress(0.0, "checking the inputs")
        print(json.dumps(cfg.to_dict(), indent=2, default=str))
        progress(1.0, "inputs checked; nothing trained (--dryRun)")
        return 0
    train_from = 0.0
    if noisy is not None:
        from SynTumorLib.corruption import corrupt_dataset

        progress(0.0, f"writing a copy of the dataset with {args.noiseLevel} label noise")
        corrupt_dataset(args.dataset, noisy, level=args.noiseLevel, seed=args.seed, progress=_scaled(progress, 0.0, 0.1))
        train_from = 0.1
    from SynTumorLib.segmentation.train import train

    folder = train(cfg, out, resume=args.resume, progress=_scaled(progress, train_from, 1.0))
    progress(1.0, "done")
    print(f"model folder: {folder}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.xml:
        sys.stdout.write(XML_PATH.read_text(encoding="utf-8"))
        return 0
    problem = check_args(args)
    if problem:
        return _fail(problem)
    _import_library()
    try:
        from SynTumorLib.utils.errors import SynTumorError
    except ImportError:
        return _fail("SynTumorLib is not importable; install the SynTumor extension (or `pip install -e .`)")
    print(f"<filter-start><filter-name>{NAME}</filter-name></filter-start>", flush=True)
    try:
        rc = run(args)
    except SynTumorError as e:
        return _fail(str(e))
    except ImportError as e:  # torch / MONAI missing in this Python
        return _fail(f"{e}; open a SynTumor module in Slicer once to install the dependencies")
    print(f"<filter-end><filter-name>{NAME}</filter-name></filter-end>", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
