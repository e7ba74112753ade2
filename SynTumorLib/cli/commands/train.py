"""``syntumor train <what>``: train a segmenter, an autoencoder or a diffusion model."""

from __future__ import annotations

import importlib
import pkgutil


def register(sub) -> None:
    p = sub.add_parser("train", help="train a segmenter or a tumour-texture model (see: syntumor train -h)")
    tsub = p.add_subparsers(dest="what", metavar="WHAT")
    tsub.required = True
    from .. import train_commands

    for info in sorted(pkgutil.iter_modules(train_commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{train_commands.__name__}.{info.name}").register(tsub)
