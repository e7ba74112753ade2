"""Worker run in a separate process by the SynTumorSegmentation module::

    PythonSlicer predict_worker.py --model DIR --image ct.nrrd --out seg.nrrd [--pancreas p.nrrd]
                                   [--device auto] [--overlap 0.5]

Prints Slicer Execution Model progress lines (``<filter-progress>``/``<filter-comment>``) that
``process.parse_progress_line`` reads; errors in the inputs end with a one-line message and exit
code 2, like the ``syntumor`` CLI.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="SynTumor segmentation worker (one CT → one label map)")
    p.add_argument("--model", required=True, help="model folder written by `syntumor train segmenter`")
    p.add_argument("--image", required=True, help="CT file")
    p.add_argument("--out", required=True, help="output label map (0/1/2) on the CT's grid")
    p.add_argument("--pancreas", help="optional pancreas mask: tumours far from it are removed")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--overlap", type=float, default=0.5)
    args = p.parse_args(argv)

    from SynTumorLib.segmentation.inference import predict_files
    from SynTumorLib.utils.errors import SynTumorError
    from SynTumorLib.utils.progress import filter_progress_printer

    progress = filter_progress_printer()
    progress(0.0, "loading the model")
    try:
        predict_files(args.model, args.image, args.out, pancreas=args.pancreas, device=args.device,
                      overlap=args.overlap, progress=progress)
    except SynTumorError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    progress(1.0, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
