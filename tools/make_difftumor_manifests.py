#!/usr/bin/env python3
"""Write ``SynTumorLib/texture/difftumor/difftumor_manifests.json``: name → shape of DiffTumor's tensors.

* ``autoencoder`` and ``unet`` come from SynTumor's own modules at the released configs
  (``VQGAN3D()``, ``Unet3D()``), built on the meta device (no memory, no random numbers);
* ``autoencoder_ignored`` — the training-only tensors — is enumerated from the architecture facts
  (SPEC §2): pix2pixHD-style ``NLayerDiscriminator`` in 2D and 3D (64 channels, 3 layers, kernel 4,
  BatchNorm with an int64 ``num_batches_tracked``) and LPIPS (scaling layer, VGG16 feature convs
  kept at their ``features`` indices in ``slice1..5``, five 1×1 ``lin`` heads without bias);
* ``schedule`` — the 12 buffers of shape (T,).

``Testing/test_difftumor_manifests.py`` rebuilds the document with :func:`build` and compares.

    python tools/make_difftumor_manifests.py          # rewrite
    python tools/make_difftumor_manifests.py --check  # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUT = REPO / "SynTumorLib" / "texture" / "difftumor" / "difftumor_manifests.json"


def _entry(shape, dtype="float32") -> dict:
    return {"shape": list(shape), "dtype": dtype}


def _discriminator(prefix: str, spatial: int, channels: int = 64, layers: int = 3, image_channels: int = 1) -> dict:
    k = (4,) * spatial
    out: dict = {}
    chans = [image_channels, channels]
    for _ in range(1, layers):
        chans.append(min(chans[-1] * 2, 512))
    chans.append(min(chans[-1] * 2, 512))  # the stride-1 layer
    for i in range(layers + 1):
        c_in, c_out = chans[i], chans[i + 1]
        out[f"{prefix}.model{i}.0.weight"] = _entry((c_out, c_in, *k))
        out[f"{prefix}.model{i}.0.bias"] = _entry((c_out,))
        if i > 0:  # conv → BatchNorm → LeakyReLU; the first layer has no norm
            for name in ("weight", "bias", "running_mean", "running_var"):
                out[f"{prefix}.model{i}.1.{name}"] = _entry((c_out,))
            out[f"{prefix}.model{i}.1.num_batches_tracked"] = _entry((), "int64")
    out[f"{prefix}.model{layers + 1}.0.weight"] = _entry((1, chans[-1], *k))
    out[f"{prefix}.model{layers + 1}.0.bias"] = _entry((1,))
    return out


def _lpips(prefix: str = "perceptual_model") -> dict:
    out = {f"{prefix}.scaling_layer.shift": _entry((1, 3, 1, 1)),
           f"{prefix}.scaling_layer.scale": _entry((1, 3, 1, 1))}
    # VGG16 `features` conv indices per LPIPS slice, and their (in, out) channels
    slices = {1: [(0, 3, 64), (2, 64, 64)], 2: [(5, 64, 128), (7, 128, 128)],
              3: [(10, 128, 256), (12, 256, 256), (14, 256, 256)],
              4: [(17, 256, 512), (19, 512, 512), (21, 512, 512)],
              5: [(24, 512, 512), (26, 512, 512), (28, 512, 512)]}
    for s, convs in slices.items():
        for idx, c_in, c_out in convs:
            out[f"{prefix}.net.slice{s}.{idx}.weight"] = _entry((c_out, c_in, 3, 3))
            out[f"{prefix}.net.slice{s}.{idx}.bias"] = _entry((c_out,))
    for i, c in enumerate((64, 128, 256, 512, 512)):
        out[f"{prefix}.lin{i}.model.1.weight"] = _entry((1, c, 1, 1))
    return out


def _module_entries(module) -> dict:
    return {k: _entry(tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in module.state_dict().items()}


def build() -> dict:
    """The manifest document (deterministic; no file access)."""
    import torch

    from SynTumorLib.texture.difftumor.manifests import FORMAT
    from SynTumorLib.texture.difftumor.schedule import BUFFER_NAMES
    from SynTumorLib.texture.difftumor.unet3d import Unet3D
    from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D

    with torch.device("meta"):
        ae, unet = VQGAN3D(), Unet3D()
    ignored = {**_discriminator("image_discriminator", 2), **_discriminator("video_discriminator", 3), **_lpips()}
    return {
        "format": FORMAT,
        "source": "DiffTumor's released AutoencoderModel.ckpt and DiffusionModel/*.pt (SPEC §2–§3); "
                  "key names and shapes are interoperability facts",
        "autoencoder": _module_entries(ae),
        "autoencoder_ignored": dict(sorted(ignored.items())),
        "unet": _module_entries(unet),
        "schedule": {k: _entry(("T",)) for k in BUFFER_NAMES},
    }


def render(doc: dict) -> str:
    return json.dumps(doc, indent=1) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the committed manifest is stale")
    args = ap.parse_args()
    text = render(build())
    if args.check:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT.relative_to(REPO)} is stale: run python tools/make_difftumor_manifests.py")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
