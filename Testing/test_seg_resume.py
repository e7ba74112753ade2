"""Resuming: a run killed after its step-3 checkpoint and resumed ends with exactly the weights of
an uninterrupted run with the same seed (CPU, deterministic algorithms)."""

from __future__ import annotations

import json

import pytest
import torch
from builders import make_seg_dataset, tiny_config
from safetensors.torch import load_file

from SynTumorLib.runtime.checkpoint import load_checkpoint
from SynTumorLib.segmentation import train
from SynTumorLib.utils.errors import InputError, ModelFolderError

torch.set_num_threads(1)


class Killed(Exception):
    pass


def _kill_after(step_to_die: int):
    def cb(fraction, message):
        if message.startswith(f"step {step_to_die}/"):
            raise Killed(message)

    return cb


@pytest.fixture(scope="module")
def real_ds(tmp_path_factory):
    return make_seg_dataset(tmp_path_factory.mktemp("resume") / "real", n_cases=4)


def _cfg(real_ds, **kw):
    # validation at step 2 and 6 exercises best-weight bookkeeping across the kill
    return tiny_config(real_ds, iterations=6, checkpoint_every=3, val_every=2,
                       split={"seed": 0, "test_fraction": 0.0, "val_fraction": 0.25}, **kw)


def test_resume_reaches_the_same_weights(real_ds, tmp_path):
    full = train(_cfg(real_ds), tmp_path / "full")
    with pytest.raises(Killed):
        train(_cfg(real_ds), tmp_path / "part", progress=_kill_after(3))
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt", "segmenter")["step"] == 3
    part = train(_cfg(real_ds), tmp_path / "part", resume=True)
    a = load_checkpoint(full / "checkpoints" / "last.pt", "segmenter")["model"]
    b = load_checkpoint(part / "checkpoints" / "last.pt", "segmenter")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    wa, wb = load_file(str(full / "model.safetensors")), load_file(str(part / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    la = json.loads((full / "log.json").read_text())
    lb = json.loads((part / "log.json").read_text())
    assert [r["loss"] for r in la] == [r["loss"] for r in lb] and len(lb) == 6


def test_resume_refusals(real_ds, tmp_path):
    with pytest.raises(InputError, match="nothing to resume"):
        train(_cfg(real_ds), tmp_path / "none", resume=True)
    with pytest.raises(Killed):
        train(_cfg(real_ds), tmp_path / "run", progress=_kill_after(3))
    with pytest.raises(InputError, match="already"):
        train(_cfg(real_ds), tmp_path / "run")
    with pytest.raises(InputError, match=r"differs .*'lr'"):
        train(_cfg(real_ds, lr=0.5), tmp_path / "run", resume=True)
    with pytest.raises(InputError, match=r"differs .*'model'"):
        train(_cfg(real_ds, model={"name": "unet", "args": {"channels": [4, 8, 32]}}), tmp_path / "run", resume=True)
    ck = tmp_path / "run" / "checkpoints" / "last.pt"
    ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    with pytest.raises(ModelFolderError, match="corrupt or truncated"):
        train(_cfg(real_ds), tmp_path / "run", resume=True)


def test_worker_processes_do_not_change_the_data(real_ds, tmp_path):
    cfg = tiny_config(real_ds, iterations=2, val_every=100, split={"seed": 0, "test_fraction": 0.0, "val_fraction": 0.0})
    a = train(cfg, tmp_path / "w0")
    b = train({**cfg, "num_workers": 1}, tmp_path / "w1")
    la = [r["loss"] for r in json.loads((a / "log.json").read_text())]
    lb = [r["loss"] for r in json.loads((b / "log.json").read_text())]
    assert la == lb
