"""The worker process behind the SynTumor panels::

    PythonSlicer worker_main.py TASK FOLDER

``FOLDER/args.json`` holds the task's arguments (file names are relative to ``FOLDER``); outputs are
written atomically into ``FOLDER``; progress goes to stdout as ``<filter-progress>`` /
``<filter-comment>`` lines (what ``worker.parse_progress_line`` reads). Bad inputs end with one line
``error: …`` and exit code 2, anything else with a traceback and exit code 1.

Tasks (each one library call):

* ``insert``  — ``insertion.insert_tumours`` with any texture a library call accepts
  (``"statistical"``, a diffusion or DiffTumor model folder, a record-style ``{"name", "config"}``
  dict, …) → ``result_image.nrrd``, ``result_label.nrrd``, ``result.json``;
* ``predict`` — ``segmentation.inference.predict_files`` → ``prediction.nrrd``;
* ``evaluate`` — ``metrics.evaluate.evaluate_case`` and ``metrics.lesion_detection`` → ``result.json``;
* ``download`` — ``models.install.install_model``: a catalogue model's files downloaded (only with
  ``"consented": true``, given in the panel's consent dialog) and imported → ``result.json``
  (``model_folder``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

TASKS = ("insert", "predict", "evaluate", "download")


def _watch_parent(interval_s: float = 1.0) -> None:
    """Exit when the process that started us is gone: the worker leads its own process group (so
    Cancel reaches its children), which also means nobody would stop it after a crash of Slicer."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def _insert(folder: Path, args: dict, progress) -> None:
    from SynTumorLib.data.io import read_volume, write_volume
    from SynTumorLib.insertion import insert_tumours
    from SynTumorLib.utils.atomic import write_json_atomic

    image = read_volume(folder / args["image"])
    organ = read_volume(folder / args["organ"])
    out_image, out_label, record = insert_tumours(image, organ, args["spec"], seed=int(args["seed"]),
                                                  texture=args.get("texture", "statistical"), progress=progress)
    write_volume(out_image, folder / "result_image.nrrd", compress=False)
    write_volume(out_label, folder / "result_label.nrrd", compress=False)
    write_json_atomic(folder / "result.json", {"record": record})


def _predict(folder: Path, args: dict, progress) -> None:
    from SynTumorLib.segmentation.inference import predict_files

    pancreas = folder / args["pancreas"] if args.get("pancreas") else None
    overlap = args.get("overlap")  # None: the model's own (DiffTumor's released segmenters use 0.75)
    predict_files(args["model"], folder / args["image"], folder / "prediction.nrrd", pancreas=pancreas,
                  device=args.get("device", "auto"), overlap=None if overlap is None else float(overlap),
                  progress=progress)


def _evaluate(folder: Path, args: dict, progress) -> None:
    from SynTumorLib.data.io import read_volume
    from SynTumorLib.metrics import lesion_detection
    from SynTumorLib.metrics.evaluate import evaluate_case
    from SynTumorLib.utils.atomic import write_json_atomic

    pred = read_volume(folder / args["prediction"])
    ref = read_volume(folder / args["reference"])
    progress(0.1, "overlap and surface distances")
    metrics = evaluate_case(pred, ref, tolerance_mm=float(args.get("tolerance_mm", 2.0)))
    progress(0.6, "lesions")
    lesions = lesion_detection(pred.array == 2, ref.array == 2, ref.array_spacing)
    write_json_atomic(folder / "result.json", {"metrics": metrics, "lesions": lesions})


def _download(folder: Path, args: dict, progress) -> None:
    from SynTumorLib.models.install import install_model
    from SynTumorLib.utils.atomic import write_json_atomic

    # consent was asked in the GUI (SynTumorCommon.model_download); without it nothing is fetched
    model = install_model(args["name"], args["downloads"], args["out"], consent=args.get("consented") is True,
                          catalogue=args.get("catalogue"), base_url=args.get("base_url"), progress=progress)
    write_json_atomic(folder / "result.json", {"model_folder": str(model), "name": args["name"]})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="SynTumor worker: one task on the files in a folder")
    p.add_argument("task", choices=TASKS)
    p.add_argument("folder", help="folder holding args.json and the task's input files")
    ns = p.parse_args(argv)
    if hasattr(os, "setsid"):
        try:
            os.setsid()  # its own process group: Cancel stops whatever this process starts, too
        except OSError:
            pass  # already a group leader
        _watch_parent()

    from SynTumorLib.utils.errors import SynTumorError
    from SynTumorLib.utils.jsonio import read_json
    from SynTumorLib.utils.progress import filter_progress_printer

    progress = filter_progress_printer()
    folder = Path(ns.folder)
    try:
        progress(0.0, f"{ns.task}: reading the inputs")
        args = read_json(folder / "args.json")
        {"insert": _insert, "predict": _predict, "evaluate": _evaluate, "download": _download}[ns.task](
            folder, args, progress)
    except SynTumorError as e:
        print(f"error: {e}", flush=True)
        return 2
    progress(1.0, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
