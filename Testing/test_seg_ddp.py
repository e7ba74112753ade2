"""DDP: `torchrun --nproc_per_node 2` on the CPU (gloo) trains a tiny config; rank 0 writes the model
folder and both ranks end with identical parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from builders import make_seg_dataset, tiny_config


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_torchrun_two_cpu_processes(tmp_path):
    real = make_seg_dataset(tmp_path / "real", n_cases=4)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(tiny_config(real, iterations=3, val_every=3, checkpoint_every=2, batch_size=1,
                                          split={"seed": 0, "test_fraction": 0.0, "val_fraction": 0.25})))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "SynTumorLib", "train", "segmenter", "--config", str(cfg), "--out", str(tmp_path / "m")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=280)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    assert card["world_size"] == 2 and card["steps"] == 3
    digests = card["rank_param_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert (tmp_path / "m" / "checkpoints" / "last.pt").is_file() and (tmp_path / "m" / "loss.png").is_file()
    assert r.stdout.count("model folder:") == 1  # only rank 0 reports (and writes)
    log = json.loads((tmp_path / "m" / "log.json").read_text())
    assert [row["step"] for row in log] == [1, 2, 3] and log[-1].get("val_tumour_dice") is not None
