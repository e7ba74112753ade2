"""Write model folders with SynTumorLib at dc62aef (model-folder format 1) and their expected outputs.

The migration test (Testing/test_model_folder.py) loads these folders with today's code and checks
that they predict / texture bit-for-bit as they did, and keep their identity. Run with the *old*
release on the path (its tree at commit dc62aef, e.g. ``git archive dc62aef | tar -x -C OLD``)::

    OMP_NUM_THREADS=1 PYTHONPATH=OLD python make_legacy.py OLD OUT_FOLDER
"""
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(sys.argv[1]) / "Testing"))
torch.set_num_threads(1)
from conftest import make_tiny_ct  # noqa: E402
from seg_testdata import make_seg_dataset, tiny_config  # noqa: E402
from SynTumorLib.texture.diffusion.model_folder import folder_sha256  # noqa: E402

from SynTumorLib import Volume  # noqa: E402
from SynTumorLib.data.msd import MSDWriter  # noqa: E402
from SynTumorLib.segmentation import load_model, predict_volume, train  # noqa: E402
from SynTumorLib.texture import get_texture  # noqa: E402
from SynTumorLib.texture.diffusion import train_autoencoder, train_diffusion  # noqa: E402

out = Path(sys.argv[2])
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)
work = out.parent / (out.name + "-work")
shutil.rmtree(work, ignore_errors=True)
expected = {}

# segmenter, trained 2 steps
real = make_seg_dataset(work / "real", n_cases=3, shape=(24, 24, 24))
cfg = tiny_config(real, iterations=2, val_every=2, checkpoint_every=2,
                  split={"seed": 0, "test_fraction": 0.0, "val_fraction": 0.34})
seg = train(cfg, work / "segmenter")
(out / "segmenter").mkdir()
for f in ["config.json", "model.safetensors", "model_card.json", "model_card.md", "splits.json"]:
    shutil.copy(seg / f, out / "segmenter" / f)
image, _ = make_tiny_ct(shape=(24, 24, 24), seed=9)
pred = predict_volume(load_model(out / "segmenter"), image, device="cpu")
expected["segmenter_prediction_sha256"] = hashlib.sha256(np.ascontiguousarray(pred.array).tobytes()).hexdigest()
expected["segmenter_prediction_input"] = "make_tiny_ct(shape=(24, 24, 24), seed=9)"

# texture autoencoder + denoiser, 2 steps each
root = work / "tex"
lab = np.zeros((24, 24, 24), np.uint8)
lab[8:16, 8:16, 8:16] = 1
lab[10:14, 10:14, 10:14] = 2
img = Volume.from_geometry((lab * 60.0 - 50).astype(np.int16), spacing=(2, 2, 2))
MSDWriter(root).add_case("c0", img, img.with_array(lab))
tcfg = {"crop": {"size": 16, "crops_per_tumour": 2},
        "autoencoder": {"channels": [4, 4], "latent_channels": 2, "num_embeddings": 8},
        "discriminator": {"channels": 4}, "autoencoder_training": {"batch_size": 2, "adv_start": 1},
        "diffusion": {"channels": [8, 8], "attention_levels": [False, False], "norm_num_groups": 8,
                      "num_head_channels": 8, "num_train_timesteps": 20,
                      "sampling": [{"scheduler": "ddim", "steps": 3}, {"scheduler": "ddim", "steps": 3}]},
        "diffusion_training": {"batch_size": 2}}
ae = train_autoencoder(root, work / "ae", tcfg, steps=2, device="cpu", seed=1)
dm = train_diffusion(root, ae, work / "dm", None, steps=2, device="cpu", seed=2)
for name, src in (("texture-autoencoder", ae), ("texture-denoiser", dm)):
    (out / name).mkdir()
    for f in ["config.json", "model.safetensors", "model_card.json", "VERSION"]:
        shutil.copy(src / f, out / name / f)
rng = np.random.default_rng(0)
shape = (24, 28, 28)
ct = rng.normal(60, 15, shape).astype(np.int16)
k, j, i = np.indices(shape)
tumour = ((k - 12) / 3.0) ** 2 + ((j - 14) / 4.0) ** 2 + ((i - 13) / 3.5) ** 2 < 1
organ = (((k - 12) / 8.0) ** 2 + ((j - 14) / 9.0) ** 2 + ((i - 13) / 9.0) ** 2 < 1) & ~tumour
tex = get_texture(out / "texture-denoiser")
syn, params = tex.synthesize(ct, tumour, organ, (1.5, 1.0, 1.0), seed=7)
expected["texture_output_sha256"] = hashlib.sha256(np.ascontiguousarray(syn).tobytes()).hexdigest()
expected["texture_model_sha256"] = tex.sha256
expected["texture_record_noise_seed"] = params["noise_seed"]
expected["autoencoder_model_sha256"] = folder_sha256(out / "texture-autoencoder")
(out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
print(json.dumps(expected, indent=2))
