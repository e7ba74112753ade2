"""``syntumor models``: published models — list the catalogue, download (with consent), import, verify.

Examples::

    syntumor models list
    syntumor models download difftumor-texture-pancreas --out downloads/difftumor   # asks y/N first
    syntumor models import difftumor --autoencoder AutoencoderModel.ckpt --early pancreas_early.pt \\
        --noearly pancreas_noearly.pt --organ pancreas --out models/difftumor-pancreas
    syntumor models import difftumor-segmenter --checkpoint unet_synt_pancreas_tumors.pt --arch unet \\
        --organ pancreas --out models/difftumor-unet-pancreas
    syntumor models verify models/difftumor-pancreas
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...models.catalogue import ORGANS
from ..common import PathRoles


def _catalogue_args(p) -> None:
    p.add_argument("--catalogue", type=Path, default=None,
                   help="another catalogue JSON (default: $SYNTUMOR_MODELS_CATALOGUE or the shipped one)")
    p.add_argument("--base-url", default=None,
                   help="replace the catalogue's base URL, e.g. a mirror (default: $SYNTUMOR_MODELS_BASE_URL)")


def _list(args) -> int:
    from ...models.catalogue import human_bytes, load_catalogue

    cat = load_catalogue(args.catalogue, args.base_url)
    if args.json:
        print(json.dumps([e.to_dict() for e in cat], indent=2, ensure_ascii=False))
        return 0
    width = max(len(e.name) for e in cat)
    print(f"{'name':<{width}}  {'kind':<19}  {'organ':<8}  {'size':>9}  page")
    for e in cat:
        print(f"{e.name:<{width}}  {e.kind:<19}  {e.organ:<8}  {'≈' + human_bytes(e.total_approx_bytes):>9}  {e.page}")
    if cat.notes:
        print(f"\n{cat.notes}")
    print("\nDownload one with `syntumor models download NAME --out DIR` (asks first), or fetch the files yourself "
          "from the page and use `syntumor models import`.")
    return 0


def _ask(text: str) -> bool:
    """Show the consent text on stderr and read y/N from stdin (end of input: no)."""
    print(text, file=sys.stderr)
    print("Download? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _download(args) -> int:
    from ...models.catalogue import load_catalogue
    from ...models.download import ConsentRefused, download_model, stderr_progress

    entry = load_catalogue(args.catalogue, args.base_url).get(args.name)
    try:
        paths = download_model(entry, args.out, consent=True if args.yes else _ask, base_url=args.base_url,
                               progress=stderr_progress())
    except ConsentRefused as e:
        print(f"{e}", file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    if args.import_to is not None:
        from ...models.install import import_downloaded

        print(import_downloaded(entry, args.out, args.import_to))
    else:
        print(f"next: syntumor models download … --import-to DIR, or `syntumor models import` the files in {args.out}",
              file=sys.stderr)
    return 0


def _import_texture(args) -> int:
    from ...texture.difftumor.folder import import_difftumor_texture

    print(import_difftumor_texture(args.autoencoder, args.early, args.noearly, organ=args.organ, out=args.out))
    return 0


def _import_segmenter(args) -> int:
    from ...segmentation.difftumor_folder import import_difftumor_segmenter

    print(import_difftumor_segmenter(args.checkpoint, args.arch, args.organ, args.out))
    return 0


def _verify(args) -> int:
    from ...models.install import verify_model_folder

    summary = verify_model_folder(args.folder)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        what = summary.get("architecture") or ",".join(summary.get("recipes") or []) or ""
        print(f"{summary['folder']}: ok — {summary['kind']} {what} {summary.get('organ') or ''}".rstrip())
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help="published models: list, download (with consent), import, verify",
                       description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=__doc__.split("\n\n", 1)[1])
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True

    li = msub.add_parser("list", help="the model catalogue: name, kind, organ, size, download page")
    li.add_argument("--json", action="store_true", help="the full entries (files, URLs, licence) as JSON")
    _catalogue_args(li)
    li.set_defaults(func=_list, paths=PathRoles(inputs=("catalogue",)))

    dl = msub.add_parser("download", help="download a catalogue model's files (asks y/N first; resumes; SHA-256)",
                         description="Download the files of a catalogue model into OUT after showing its name, size "
                                     "and licence and asking y/N (or --yes). An interrupted download resumes from "
                                     "its .part file; OUT/download.json records each file's URL, size and SHA-256.")
    dl.add_argument("name", help="catalogue name (syntumor models list)")
    dl.add_argument("--out", type=Path, required=True, help="folder for the downloaded files")
    dl.add_argument("--yes", action="store_true", help="agree to the download and its licence without asking")
    dl.add_argument("--import-to", type=Path, default=None, metavar="DIR",
                    help="then import the files into the SynTumor model folder DIR")
    _catalogue_args(dl)
    dl.set_defaults(func=_download, paths=PathRoles(outputs={"out": "dir", "import_to": "dir"},
                                                    inputs=("catalogue",)))

    im = msub.add_parser("import", help="convert DiffTumor's released files into a SynTumor model folder (no "
                                        "pickled code is executed)")
    isub = im.add_subparsers(dest="import_kind", metavar="KIND")
    isub.required = True
    tx = isub.add_parser("difftumor", help="the VQ-GAN autoencoder + early / non-early diffusion models → texture folder")
    tx.add_argument("--autoencoder", type=Path, required=True, help="AutoencoderModel.ckpt")
    tx.add_argument("--early", type=Path, default=None, help="<organ>_early.pt (tiny and small tumours)")
    tx.add_argument("--noearly", type=Path, default=None, help="<organ>_noearly.pt (medium and large tumours)")
    tx.add_argument("--organ", required=True, choices=ORGANS)
    tx.add_argument("--out", type=Path, required=True, help="model folder to write")
    tx.set_defaults(func=_import_texture, paths=PathRoles(outputs={"out": "dir"},
                                                          inputs=("autoencoder", "early", "noearly")))
    sg = isub.add_parser("difftumor-segmenter", help="a released U-Net / nnU-Net / Swin-UNETR → segmenter folder "
                                                     "(for syntumor predict and the Segmentation panel)")
    sg.add_argument("--checkpoint", type=Path, required=True, help="{unet,nnunet,swinunetr}_synt_<organ>_tumors.pt")
    sg.add_argument("--arch", required=True, choices=("unet", "nnunet", "swinunetr"))
    sg.add_argument("--organ", required=True, choices=ORGANS)
    sg.add_argument("--out", type=Path, required=True, help="model folder to write")
    sg.set_defaults(func=_import_segmenter, paths=PathRoles(outputs={"out": "dir"}, inputs=("checkpoint",)))

    ve = msub.add_parser("verify", help="re-check a model folder (hashes, card, every tensor) — either DiffTumor kind")
    ve.add_argument("folder", type=Path, help="model folder")
    ve.add_argument("--json", action="store_true", help="print the summary as JSON")
    ve.set_defaults(func=_verify, paths=PathRoles(inputs=("folder",)))
