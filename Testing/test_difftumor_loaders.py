"""Safe loading of DiffTumor's files: allowlisted globals with inert stand-ins, manifests, VQ-GAN copies."""

from __future__ import annotations

import io
import pickle
import sys

import pytest
import torch
from _difftumor_fixtures import RELEASED_AE_CFG, MarkerPayload, lightning_checkpoint

from SynTumorLib.texture.difftumor import loaders
from SynTumorLib.texture.difftumor.safe_unpickle import pickle_globals
from SynTumorLib.texture.difftumor.schedule import schedule_buffers
from SynTumorLib.texture.difftumor.unet3d import Unet3D
from SynTumorLib.texture.difftumor.vqgan3d import VQGAN3D
from SynTumorLib.utils.errors import InputError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ae_sd():
    torch.manual_seed(0)
    sd = VQGAN3D().state_dict()
    sd["codebook.embeddings"].normal_()
    return sd


@pytest.fixture(scope="module")
def unet_sd():
    torch.manual_seed(1)
    return Unet3D().state_dict()


def _with_ignored(sd: dict) -> dict:
    # a few of the 83 training-only tensors, as a real checkpoint carries them
    return {**sd, "image_discriminator.model1.1.num_batches_tracked": torch.tensor(7),
            "perceptual_model.lin0.model.1.weight": torch.zeros(1, 64, 1, 1),
            "video_discriminator.model4.0.bias": torch.zeros(1)}


def test_lightning_checkpoint_loads_without_omegaconf(tmp_path, ae_sd):
    path = tmp_path / "AutoencoderModel.ckpt"
    path.write_bytes(lightning_checkpoint(_with_ignored(ae_sd)))
    assert "omegaconf" not in sys.modules  # the fake classes are gone: nothing can import them back
    found = pickle_globals(path)
    assert {"omegaconf.dictconfig.DictConfig", "collections.defaultdict", "collections.Counter", "typing.Any",
            "builtins.int"} <= found
    sd, info = loaders.load_difftumor_autoencoder(path)
    assert "omegaconf" not in sys.modules
    assert set(sd) == set(ae_sd) and all(torch.equal(sd[k], ae_sd[k]) for k in sd)
    assert info["config"]["model"]["n_codes"] == 16384 and info["config"]["model"]["downsample"] == [4, 4, 4]
    assert info["ignored_tensors"] == 3 and info["epoch"] == 9 and info["lightning_version"] == "1.6.4"
    assert info["embedding_range"] == [pytest.approx(float(ae_sd["codebook.embeddings"].min())),
                                       pytest.approx(float(ae_sd["codebook.embeddings"].max()))]
    assert len(info["sha256"]) == 64 and info["size"] == path.stat().st_size
    model = loaders.vqgan_from_state_dict(sd)
    assert not model.training and torch.equal(model.codebook.embeddings, ae_sd["codebook.embeddings"])


def test_checkpoint_with_another_global_is_refused_and_never_runs(tmp_path, ae_sd):
    marker = tmp_path / "marker.txt"
    payload = lightning_checkpoint(ae_sd, extra={"callbacks": {"evil": MarkerPayload(str(marker))}})
    path = tmp_path / "evil.ckpt"
    path.write_bytes(payload)
    with pytest.raises(InputError, match=r"evil\.ckpt.*_difftumor_fixtures\.write_marker.*nothing was unpickled"):
        loaders.load_difftumor_autoencoder(path)
    assert not marker.exists()
    # the payload is real: torch's unrestricted loader would have run it
    marker2 = tmp_path / "marker2.txt"
    evil = io.BytesIO(pickle.dumps({"x": MarkerPayload(str(marker2))}))
    pickle.load(evil)
    assert marker2.exists()


def test_torch_allowlisted_global_outside_the_spec_set_is_refused(tmp_path, ae_sd):
    sd = dict(ae_sd)
    sd["codebook.N"] = torch.nn.Parameter(sd["codebook.N"].clone())  # pickles torch._utils._rebuild_parameter
    path = tmp_path / "param.ckpt"
    path.write_bytes(lightning_checkpoint(sd))
    with pytest.raises(InputError, match="torch._utils._rebuild_parameter"):
        loaders.load_difftumor_autoencoder(path)


def test_missing_misshapen_and_unknown_keys_are_named(tmp_path, ae_sd):
    cases = {
        "missing": ({k: v for k, v in ae_sd.items() if k != "decoder.conv_last.conv.bias"}, "missing key.*conv_last.conv.bias"),
        "shape": ({**ae_sd, "pre_vq_conv.conv.weight": torch.zeros(4, 64, 1, 1, 1)},
                  r"'pre_vq_conv.conv.weight' has shape \(4, 64, 1, 1, 1\), expected \(8, 64, 1, 1, 1\)"),
        "unknown": ({**ae_sd, "encoder.extra.weight": torch.zeros(1)}, "unexpected key.*encoder.extra.weight"),
        "ignored_shape": ({**ae_sd, "perceptual_model.lin0.model.1.weight": torch.zeros(2)}, "lin0.model.1.weight' has shape"),
    }
    for name, (sd, pattern) in cases.items():
        path = tmp_path / f"{name}.ckpt"
        path.write_bytes(lightning_checkpoint(sd))
        with pytest.raises(InputError, match=pattern):
            loaders.load_difftumor_autoencoder(path)


def test_another_autoencoder_config_is_refused(tmp_path, ae_sd):
    cfg = {"model": {**RELEASED_AE_CFG["model"], "n_hiddens": 32}, "dataset": {"image_channels": 1}}
    path = tmp_path / "cfg.ckpt"
    path.write_bytes(lightning_checkpoint(ae_sd, cfg=cfg))
    with pytest.raises(InputError, match=r"cfg\.model\.n_hiddens = 32"):
        loaders.load_difftumor_autoencoder(path)


def test_not_a_checkpoint_and_truncated_files(tmp_path, ae_sd):
    (tmp_path / "text.ckpt").write_text("hello")
    with pytest.raises(InputError, match="not a torch checkpoint"):
        loaders.load_difftumor_autoencoder(tmp_path / "text.ckpt")
    raw = lightning_checkpoint(ae_sd)
    (tmp_path / "cut.ckpt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError):
        loaders.load_difftumor_autoencoder(tmp_path / "cut.ckpt")
    with pytest.raises(InputError, match="not found"):
        loaders.load_difftumor_autoencoder(tmp_path / "absent.ckpt")
    buf = io.BytesIO()
    torch.save({"weights": ae_sd}, buf)
    (tmp_path / "plain.ckpt").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="no 'state_dict'"):
        loaders.load_difftumor_autoencoder(tmp_path / "plain.ckpt")


def _pt(path, unet_sd, ae_sd, T, **overrides):
    entries = {**{f"denoise_fn.{k}": v for k, v in unet_sd.items()},
               **{f"vqgan.{k}": v for k, v in _with_ignored(ae_sd).items()}, **schedule_buffers(T)}
    entries.update(overrides)
    # model and ema share storages, so the file stays small
    torch.save({"step": 60000, "model": entries, "ema": dict(entries), "scaler": {"scale": 65536.0, "_growth_tracker": 0}},
               path)
    return path


def test_diffusion_pt_loads_with_weights_only(tmp_path, unet_sd, ae_sd):
    path = _pt(tmp_path / "pancreas_early.pt", unet_sd, ae_sd, 4)
    assert pickle_globals(path) <= loaders.PT_GLOBALS
    tensors, info = loaders.load_difftumor_denoiser(path, expected_T=4)
    assert (len(tensors["unet"]), len(tensors["schedule"]), len(tensors["vqgan"])) == (300, 12, 71)
    assert info["T"] == 4 and info["recipe"] == "early" and info["step"] == 60000 and info["which"] == "ema"
    assert info["schedule_max_abs_diff_vs_cosine"] == 0.0 and info["model_vs_ema_max_abs_diff"] == 0.0
    net = loaders.unet_from_state_dict(tensors["unet"])
    assert all(torch.equal(net.state_dict()[k], unet_sd[k]) for k in unet_sd)
    assert loaders.compare_vqgan_copies(tensors["vqgan"], ae_sd)["identical"]


def test_vqgan_copy_difference_is_measured(unet_sd, ae_sd):
    other = {k: v.clone() for k, v in ae_sd.items()}
    other["decoder.conv_last.conv.bias"] += 0.25
    cmp = loaders.compare_vqgan_copies(ae_sd, other)
    assert cmp == {"max_abs_diff": pytest.approx(0.25), "worst_key": "decoder.conv_last.conv.bias", "identical": False}
    with pytest.raises(InputError, match="different keys"):
        loaders.compare_vqgan_copies(ae_sd, {k: v for k, v in other.items() if k != "codebook.N"})


def test_diffusion_pt_errors_name_the_problem(tmp_path, unet_sd, ae_sd):
    path = _pt(tmp_path / "pancreas_noearly.pt", unet_sd, ae_sd, 200)
    with pytest.raises(InputError, match=r"non-early \(T = 200\) model; expected early \(T = 4\)"):
        loaders.load_difftumor_denoiser(path, expected_T=4)
    texto = _pt(tmp_path / "texto.pt", unet_sd, ae_sd, 200,
                **{"denoise_fn.init_conv.weight": torch.zeros(24, 26, 1, 7, 7)})
    with pytest.raises(InputError, match="TextoMorph"):
        loaders.load_difftumor_denoiser(texto)
    bad = _pt(tmp_path / "bad.pt", unet_sd, ae_sd, 4, **{"denoise_fn.final_conv.1.weight": torch.zeros(4, 24, 1, 1, 1)})
    with pytest.raises(InputError, match=r"denoiser.*'final_conv.1.weight' has shape"):
        loaders.load_difftumor_denoiser(bad)
    nosched = _pt(tmp_path / "nosched.pt", unet_sd, ae_sd, 4)
    obj = torch.load(nosched, weights_only=True)
    del obj["ema"]["posterior_variance"]
    torch.save(obj, nosched)
    with pytest.raises(InputError, match="schedule.*missing key.*posterior_variance"):
        loaders.load_difftumor_denoiser(nosched)
    buf = io.BytesIO()
    torch.save({"model": {}}, buf)
    (tmp_path / "wrong.pt").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="expected 'model' and 'ema'"):
        loaders.load_difftumor_denoiser(tmp_path / "wrong.pt")
    marker = tmp_path / "m.txt"
    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "ema": {}, "step": MarkerPayload(str(marker))}, evil)
    with pytest.raises(InputError, match="write_marker"):
        loaders.load_difftumor_denoiser(evil)
    assert not marker.exists()
