"""Leftovers after ``kill -9``: worker processes die with their parent, stale temporary files are
removed and never read, and a rerun gives exactly the files an uninterrupted run gives."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import make_tiny_ct

from SynTumorLib.cli.main import main
from SynTumorLib.data.msd import MSDWriter

REPO = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    end = time.time() + seconds
    while time.time() < end and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def healthy(tmp_path) -> Path:
    w = MSDWriter(tmp_path / "healthy", name="healthy")
    for n in range(3):
        image, label = make_tiny_ct(shape=(24, 32, 32), seed=n)
        w.add_case(f"h_{n:03d}", image, label)
    return tmp_path / "healthy"


@linux_only
@pytest.mark.slow
def test_kill_parallel_synthesis_then_rerun(healthy, tmp_path):
    out, ref = tmp_path / "syn", tmp_path / "ref"
    args = ["synthesize-dataset", "--healthy", str(healthy), "--classes", "tiny", "--per-case", "3", "--seed", "4"]
    assert main([*args, "--out", str(ref)]) == 0  # the uninterrupted result (serial: the same as parallel)

    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "SynTumorLib", *args, "--out", str(out), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    end = time.time() + 120
    while time.time() < end and proc.poll() is None:  # until both workers run and a case is finished
        workers = sorted(set(workers) | {c for c in _children(proc.pid)
                                         if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text(errors="replace")})
        meta = out / "dataset.json"
        done = meta.is_file() and json.loads(meta.read_text()).get("numTraining", 0) >= 1
        if len(workers) >= 2 and done:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; give it more work"
    everyone = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    left = _wait_gone(everyone, 10.0)
    assert not left, f"processes of the killed run still alive: {left}"

    # a write the kill interrupted leaves a hidden temporary file; plant one where the next run looks
    stale = out / "imagesTr" / ".h_002_syn02.nii.gz.k1ll3d_9.tmp.nii.gz"
    stale.write_bytes(b"half a volume")
    from SynTumorLib.data.datasets import open_dataset

    assert stale.name not in {c.image.name for c in open_dataset(out).cases()}  # never read as a case
    assert main([*args, "--out", str(out), "--workers", "2"]) == 0
    assert not stale.exists()
    assert _files(out) == _files(ref)  # byte for byte, dataset.json included


@linux_only
@pytest.mark.parametrize("kill_group", [False, True], ids=["pool-worker", "nnunet-child-with-workers"])
def test_children_die_with_their_parent(tmp_path, kill_group):
    """watch_parent: a worker exits when its parent is killed; with kill_group its own children go too."""
    pids = tmp_path / "pids.txt"
    child = textwrap.dedent(f"""
        import os, subprocess, sys, time
        from SynTumorLib.utils.workers import watch_parent
        watch_parent(int(sys.argv[1]), kill_group={kill_group})
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{grandchild.pid}}")
        time.sleep(120)
    """)
    parent = textwrap.dedent(f"""
        import os, subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", {child!r}, str(os.getpid())])
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        end = time.time() + 60
        while not (pids.is_file() and len(pids.read_text().split()) == 2) and time.time() < end:
            time.sleep(0.05)
        worker, grandchild = (int(x) for x in pids.read_text().split())
        proc.kill()
        proc.wait(30)
        assert not _wait_gone([worker], 5.0), "the worker outlived its parent"
        if kill_group:
            assert not _wait_gone([grandchild], 5.0), "the worker's own child outlived it"
        else:
            os.kill(grandchild, signal.SIGKILL)
    finally:
        proc.kill()


def test_rerun_skips_temp_files_and_removes_its_own(tmp_path, capsys):
    """A phantom cohort rerun (an MSD writer) removes the temporary files a killed write left."""
    out = tmp_path / "ph"
    argv = ["phantom", "--out", str(out), "--cases", "1", "--seed", "3", "--shape", "24", "24", "24"]
    assert main(argv) == 0
    stale = [out / "labelsTr" / ".phantom_000.nii.gz.abcdefgh.tmp.nii.gz", out / ".dataset.json.zzzzzzzz.tmp.json"]
    for p in stale:
        p.write_bytes(b"partial")
    before = {p: p.read_bytes() for p in (out / "imagesTr").iterdir()}
    assert main(argv) == 0
    assert not any(p.exists() for p in stale)
    assert {p: p.read_bytes() for p in (out / "imagesTr").iterdir()} == before
    assert before  # the real case files are still there
    capsys.readouterr()
