"""``syntumor predict`` — segment pancreas and tumour in a CT (or every CT in a folder) with a
trained model folder (or one of DiffTumor's released segmenters imported with ``syntumor models import
difftumor-segmenter``, fed with its own recipe); the result lies exactly on each input's grid::

    syntumor predict --model models/unet --image ct.nii.gz --out seg.nii.gz
    syntumor predict --model models/unet --image cts/ --pancreas-label pancreas/ --out segs/ --overlap 0.25
    syntumor predict --model models/unet --image ct.nii.gz --out seg.nii.gz --probability-out prob.nii.gz
"""

from __future__ import annotations

import argparse

from ...runtime.devices import DEVICE_HELP
from ..common import PathRoles


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="segment pancreas (1) and tumour (2) in CTs with a trained model folder",
        description="Sliding-window inference (Gaussian blending) over whole CTs; output label maps "
        "0 background / 1 pancreas / 2 tumour on each input's grid and geometry.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", required=True, help="model folder written by `syntumor train segmenter`")
    p.add_argument("--image", required=True, help="CT file or DICOM folder, or a folder of CT files")
    p.add_argument("--pancreas-label", help="pancreas mask (file, or folder matched by name): tumours outside it "
                   "(beyond --pancreas-margin mm) are removed")
    p.add_argument("--pancreas-margin", type=float, default=5.0, help="dilation of the pancreas mask in mm")
    p.add_argument("--out", required=True, help="output label file (or folder when --image is a folder)")
    p.add_argument("--overlap", type=float, default=None,
                   help="sliding-window overlap in [0, 1) (default: the model's — 0.5, or 0.75 for DiffTumor's "
                        "released segmenters imported with `syntumor models import difftumor-segmenter`)")
    p.add_argument("--largest-component", action="store_true", help="keep the largest pancreas component only")
    p.add_argument("--probability-out", metavar="PATH",
                   help="also write the tumour probability map (float32 in [0, 1], on the input grid) — a file, or a "
                        "folder when --image is a folder; `syntumor evaluate --prob` scores detection from it")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.set_defaults(func=run, paths=PathRoles(outputs={"out": "any", "probability_out": "any"},
                                             inputs=("model", "image", "pancreas_label")))


def run(args) -> int:
    from ...segmentation.inference import predict_files
    from ..common import progress_bar

    bar = progress_bar("predict")  # drawn on a terminal only: stderr stays the one error line otherwise
    written = predict_files(args.model, args.image, args.out, pancreas=args.pancreas_label, device=args.device,
                            overlap=args.overlap, progress=lambda f, m: bar(f, m[:60]),
                            largest_pancreas_component=args.largest_component, pancreas_margin_mm=args.pancreas_margin,
                            probability_out=args.probability_out)
    bar(1.0, "done")
    for w in written:
        print(w)
    return 0
