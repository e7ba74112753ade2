"""The hostile-input table of Testing/test_bad_input.py: tiny input files built in the test (truncated
gzip, a DICOM series minus one slice, a crafted pickle that would write a marker file, tampered
records, absurd size classes, broken dataset.json files, ...) and one row per (command, defect class).

Every row is a ``syntumor`` command line with ``{in}`` (the inputs folder, hashed before and after)
and ``{out}`` (a folder that must not exist afterwards unless the row allows partial output). Also
run, all rows in one process, by ``_bad_input_driver.py`` to see the real stderr.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from conftest import make_tiny_ct

MARKER = "pickle-ran.marker"  # the crafted pickle would create this file next to the inputs folder


@dataclass(frozen=True)
class Row:
    """One hostile command line and what must come of it."""

    id: str
    argv: tuple[str, ...]
    expect: str  # substring of the message (case-insensitive)
    names: str | None = None  # a path/option the message must name ({in} expanded); None: not checked
    rc: int = 2
    stream: str = "err"  # where the message is: "err" (one line) or "out" (a report, rc 1)
    partial_ok: bool = False  # per-case failures of a batch command may leave the other cases' output
    skip_if_cuda: bool = False
    tags: tuple[str, ...] = field(default=())

    def expand(self, inp: Path, out: Path) -> list[str]:
        return [a.replace("{in}", str(inp)).replace("{out}", str(out)) for a in self.argv]


# ----------------------------------------------------------------------------------------- inputs
def _write(path: Path, vol) -> Path:
    from SynTumorLib.data.io import write_volume

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_volume(vol, path)


def _truncate(path: Path, keep: float = 0.6) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _msd(root: Path, n: int, tumours: bool, seed: int = 0):
    from SynTumorLib.data.msd import MSDWriter

    w = MSDWriter(root, name=root.name)
    for c in range(n):
        image, label = make_tiny_ct(shape=(24, 32, 32), spacing=(1.5, 1.5, 1.5), seed=seed + c)
        lab = label.array.copy()
        if tumours:
            k, j, i = np.argwhere(lab == 1)[len(np.argwhere(lab == 1)) // 2]
            lab[k - 2:k + 2, j - 2:j + 2, i - 2:i + 2] = 2
        w.add_case(f"case_{c:03d}", image, label.with_array(lab))
    return w


def _crafted_pickle(path: Path, marker: Path, payload: dict | None = None) -> Path:
    """A torch checkpoint whose unpickling runs ``open(marker, 'w')`` — code execution, if it ever loads."""
    import torch

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({**(payload or {}), "network_weights": {}, "trainer_name": "nnUNetTrainer", "x": Payload()}, path)
    return path


def build_inputs(root: Path) -> Path:
    """Every input the table reads, under ``root/inputs`` (the marker would land in ``root``)."""
    from SynTumorLib import Volume
    from SynTumorLib.data.io import write_dicom_series

    inp = root / "inputs"
    image, label = make_tiny_ct(shape=(32, 40, 40), spacing=(1.5, 1.5, 1.5), seed=1)
    _write(inp / "ct.nii.gz", image)
    _write(inp / "seg.nii.gz", label)
    _write(inp / "ctdir" / "image.nii.gz", image)
    _write(inp / "ctdir" / "label.nii.gz", label)
    fl = label.array.astype(np.float32) * 7.5  # pancreas 7.5: a float "label"
    _write(inp / "segfloat.nii.gz", label.with_array(fl))
    far = Volume.from_geometry(label.array, label.spacing, origin_ras=(900.0, 900.0, 900.0))
    _write(inp / "seg_far.nii.gz", far)
    (inp / "empty.nii.gz").write_bytes(b"")
    (inp / "text.nii.gz").write_text("not an image\n")
    (inp / "afile.txt").write_text("a file where a folder is expected\n")
    (inp / "adir").mkdir()
    import SimpleITK as sitk

    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((20, 20), np.int16)), str(inp / "flat2d.nii.gz"))
    sitk.WriteImage(sitk.JoinSeries([sitk.GetImageFromArray(np.zeros((6, 8, 8), np.int16))] * 2), str(inp / "four_d.nii.gz"))
    nan = image.array.astype(np.float32)
    nan[3, 3, 3] = np.nan
    _write(inp / "nan.nii.gz", image.with_array(nan))
    _truncate(_write(inp / "trunc.nii.gz", image))
    _truncate(_write(inp / "trunc.nii", image))
    _truncate(_write(inp / "trunc_seg.nii.gz", label))
    # a DICOM series with one slice missing (the probe's 19 slices at 2.111 mm instead of 2 mm + a 4 mm gap)
    dicom = write_dicom_series(image, inp / "dicom_gap")
    sorted(dicom.iterdir())[5].unlink()
    for name, target in (("link_to_ct.nii.gz", "ct.nii.gz"),):
        try:
            (inp / name).symlink_to(inp / target)
        except OSError:  # no symlinks (Windows without developer mode): a hard link, else a copy
            shutil.copy2(inp / target, inp / name)

    # datasets
    _msd(inp / "ds", 2, tumours=True)
    _msd(inp / "healthy", 2, tumours=False, seed=5)
    w = _msd(inp / "ds_trunc", 1, tumours=True)
    _truncate(w.label_path("case_000"))
    w = _msd(inp / "ds_trunc_img", 1, tumours=True)
    _truncate(w.image_path("case_000"))
    w = _msd(inp / "healthy_trunc", 1, tumours=False)
    _truncate(w.image_path("case_000"))
    for name, text in (("dsj_trunc", '{"training": [{"image": "./imagesTr/case_000.nii.gz"'), ("dsj_list", "[1, 2]"),
                       ("dsj_nokey", '{"name": "x", "numTraining": 1}')):
        _msd(inp / name, 1, tumours=True)
        (inp / name / "dataset.json").write_text(text)
    nih = inp / "nih_gap"
    write_dicom_series(image, nih / "PANCREAS_0001")
    sorted((nih / "PANCREAS_0001").iterdir())[4].unlink()
    _write(nih / "label0001.nii.gz", label)
    # predictions for evaluate: the references themselves, and one truncated
    (inp / "pred").mkdir()
    (inp / "pred_trunc").mkdir()
    for cid in ("case_000", "case_001"):
        shutil.copy2(inp / "ds" / "labelsTr" / f"{cid}.nii.gz", inp / "pred" / f"{cid}.nii.gz")
    shutil.copy2(inp / "ds" / "labelsTr" / "case_000.nii.gz", inp / "pred_trunc" / "case_000.nii.gz")
    _truncate(inp / "pred_trunc" / "case_000.nii.gz")

    # replay records, size classes, textures, configs, specs
    def js(name: str, obj) -> None:
        (inp / name).write_text(json.dumps(obj) if not isinstance(obj, str) else obj)

    rec = {"op": "insert_tumours", "spec": {}, "texture": {"name": "statistical", "config": {}},
           "image_geometry": image.geometry_dict()}
    shape = {"semi_axes_mm": [1e7, 1e7, 1e7], "rotation": None, "sigma_mm": 1.0, "elastic_seed": 1}
    js("rec_x.json", {**rec, "tumours": "x"})
    js("rec_huge.json", {**rec, "tumours": [{"shape": shape, "box_start_kji": [0, 0, 0], "clip_to_organ": False,
                                           "texture": {}}]})
    js("rec_box.json", {**rec, "tumours": [{"shape": {**shape, "semi_axes_mm": [3, 3, 3]}, "box_start_kji": [10**9, 0, 0],
                                          "clip_to_organ": False, "texture": {}}]})
    js("rec_list.json", [rec])
    js("rec_badjson.json", '{"op": "insert_tumours", "tumours": [')
    js("classes_huge.json", {"name": "huge", "classes": {"tiny": {"radius_mm": 1e9, "range_mm": [1, 1e9]}}})
    js("texture_broken.json", '{"params": ')
    js("cfg_crop.json", {"model": {"name": "unet"}, "data": {"real": str(inp / "ds")}, "crop_size": [100000] * 3})
    js("cfg_in_ds.json", {"model": {"name": "unet"}, "data": {"real": str(inp / "ds")}, "crop_size": [16] * 3})
    js("spec_missing.json", {"name": "m", "datasets": {"real": str(inp / "no_such_dataset")}, "arms": {"models": ["unet"]}})
    js("spec_in_ds.json", {"name": "m", "datasets": {"real": str(inp / "ds")}, "arms": {"models": ["unet"]}})
    tex = inp / "tex_badversion"
    tex.mkdir()
    for f, text in (("config.json", '{"format": "syntumor-texture-diffusion", "format_version": 1}'),
                    ("model_card.json", json.dumps({"format": "syntumor-texture-diffusion"})), ("model.safetensors", ""), ("VERSION", "syntumor-autoencoder 1 SynTumorLib 0.1.0\n")):
        (tex / f).write_text(text)

    # a segmentation model folder (untrained), and an nnU-Net work folder whose checkpoint is a crafted pickle
    from builders import make_model_folder

    make_model_folder(inp / "model")
    work = inp / "nnwork"
    cfg = {"dataset_id": 501, "name": "Evil", "device": "cpu"}
    (work).mkdir()
    (work / "nnunet.json").write_text(json.dumps({"config": cfg}))
    fold = work / "nnUNet_results" / "Dataset501_Evil" / "nnUNetTrainer__nnUNetPlans__3d_fullres" / "fold_0"
    fold.mkdir(parents=True)
    for name in ("dataset.json", "plans.json"):  # what nnU-Net's own loader reads before the checkpoint
        (fold.parent / name).write_text("{}")
    _crafted_pickle(fold / "checkpoint_final.pth", root / MARKER)
    _crafted_pickle(inp / "evil_segmenter.pt", root / MARKER, {"epoch": 1, "state_dict": {}})  # models import
    # a segmenter run to resume whose last checkpoint is a crafted pickle
    _segmenter_run(inp / "segrun", inp / "ds", root / MARKER)
    return inp


def _segmenter_run(folder: Path, data: Path, marker: Path) -> None:
    from builders import tiny_config

    from SynTumorLib.segmentation.train import train

    folder.mkdir(parents=True)
    cfg = tiny_config(data, iterations=4, checkpoint_every=2, val_every=4,
                      split={"seed": 0, "test_fraction": 0.0, "val_fraction": 0.5})
    (folder / "cfg.json").write_text(json.dumps(cfg))
    try:
        train(cfg, folder / "out")
    except Exception:  # noqa: BLE001 - a failing tiny run still leaves what the row needs: a checkpoint to replace
        pass
    (folder / "out" / "checkpoints").mkdir(parents=True, exist_ok=True)
    _crafted_pickle(folder / "out" / "checkpoints" / "last.pt", marker, {"format": "syntumor-checkpoint"})


def tree_digest(root: Path) -> str:
    """SHA-256 over every path (files and folders) under ``root`` and every file's bytes."""
    h = hashlib.sha256()
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(dirpath, root)
        h.update(f"D {rel}\n".encode())
        for name in sorted(files):
            p = Path(dirpath) / name
            h.update(f"F {rel}/{name} {'L' if p.is_symlink() else ''}\n".encode())
            if not p.is_symlink():
                h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def gz_ok(path: Path) -> bool:
    try:
        with gzip.open(path) as f:
            while f.read(1 << 20):
                pass
        return True
    except (OSError, EOFError):
        return False


# ----------------------------------------------------------------------------------------- the table
def _r(id_, argv: str, expect: str, names: str | None = None, **kw) -> Row:
    return Row(id_, tuple(argv.split()), expect, names, **kw)


INSERT = "insert --image {in}/ct.nii.gz --label {in}/seg.nii.gz --out {out}/x --no-preview"
PREDICT = "predict --model {in}/model --image {in}/ct.nii.gz --out {out}/p.nii.gz --device cpu"

ROWS: list[Row] = [
    # ------------------------------------------------ already held: missing / empty / text / 2-D / 4-D / NaN
    _r("insert-missing-image", "insert --image {in}/missing.nii.gz --label {in}/seg.nii.gz --out {out}/x", "not found", "{in}/missing.nii.gz"),
    _r("insert-empty-image", "insert --image {in}/empty.nii.gz --label {in}/seg.nii.gz --out {out}/x", "cannot be read", "{in}/empty.nii.gz"),
    _r("insert-text-image", "insert --image {in}/text.nii.gz --label {in}/seg.nii.gz --out {out}/x", "cannot be read", "{in}/text.nii.gz"),
    _r("insert-2d-image", "insert --image {in}/flat2d.nii.gz --label {in}/seg.nii.gz --out {out}/x", "3-D", "{in}/flat2d.nii.gz"),
    _r("insert-4d-image", "insert --image {in}/four_d.nii.gz --label {in}/seg.nii.gz --out {out}/x", "3-D", "{in}/four_d.nii.gz"),
    _r("insert-nan-image", "insert --image {in}/nan.nii.gz --label {in}/seg.nii.gz --out {out}/x", "NaN", "{in}/nan.nii.gz"),
    _r("predict-missing-image", "predict --model {in}/model --image {in}/missing.nii.gz --out {out}/p.nii.gz", "not found", "missing.nii.gz"),
    _r("predict-missing-model", "predict --model {in}/nomodel --image {in}/ct.nii.gz --out {out}/p.nii.gz", "not found", "nomodel"),
    _r("list-missing", "dataset list {in}/missing", "not found", "missing"),
    _r("check-missing", "dataset check {in}/missing", "not found", "missing"),
    _r("export-missing", "dataset export-nnunet {in}/missing --out {out}/raw --id 501 --name X", "not found", "missing"),
    _r("corrupt-missing", "corrupt --dataset {in}/missing --level low --out {out}/c", "not found", "missing"),
    _r("evaluate-missing-pred", "evaluate --pred {in}/missing --ref {in}/ds --out {out}/e", "not found", "missing"),
    _r("texture-fit-missing", "texture fit {in}/missing --out {out}/t.json", "not found", "missing"),
    _r("sizes-analyze-missing", "sizes analyze {in}/missing --out {out}/s", "not found", "missing"),
    _r("sizes-show-missing", "sizes show {in}/missing.json", "not found", "missing.json"),
    _r("synthesize-missing", "synthesize-dataset --healthy {in}/missing --out {out}/s", "not found", "missing"),
    _r("nnunet-train-missing", "nnunet train --dataset {in}/missing --work {out}/w --device cpu", "not found", "missing"),
    _r("nnunet-predict-missing", "nnunet predict --work {in}/missing --images {in}/ds --out {out}/p", "nnunet.json", "missing"),
    _r("train-seg-missing-config", "train segmenter --config {in}/missing.json --out {out}/m", "not found", "missing.json"),
    _r("train-ae-missing", "train autoencoder {in}/missing --out {out}/ae", "not found", "missing"),
    _r("study-missing-spec", "study run {in}/missing.json --out {out}/st", "not found", "missing.json"),
    _r("phantom-huge-shape", "phantom --out {out}/ph --cases 1 --shape 100000 100000 100000", "shape", "shape"),
    # ------------------------------------------------ truncated .nii.gz / .nii (ITK zero-fills them)
    _r("insert-trunc-image", "insert --image {in}/trunc.nii.gz --label {in}/seg.nii.gz --out {out}/x", "truncated", "{in}/trunc.nii.gz"),
    _r("insert-trunc-nii", "insert --image {in}/trunc.nii --label {in}/seg.nii.gz --out {out}/x", "truncated", "{in}/trunc.nii"),
    _r("insert-trunc-label", "insert --image {in}/ct.nii.gz --label {in}/trunc_seg.nii.gz --out {out}/x", "truncated", "{in}/trunc_seg.nii.gz"),
    _r("predict-trunc-image", "predict --model {in}/model --image {in}/trunc.nii.gz --out {out}/p.nii.gz --device cpu", "truncated", "{in}/trunc.nii.gz"),
    _r("evaluate-trunc-pred", "evaluate --pred {in}/pred_trunc --ref {in}/ds --out {out}/e", "truncated", "{in}/pred_trunc/case_000.nii.gz"),
    _r("check-trunc", "dataset check {in}/ds_trunc", "truncated", "case_000.nii.gz", rc=1, stream="out"),
    _r("export-trunc", "dataset export-nnunet {in}/ds_trunc --out {out}/raw --id 501 --name X", "truncated", "case_000.nii.gz"),
    _r("texture-fit-trunc", "texture fit {in}/ds_trunc --out {out}/t.json", "truncated", "case_000.nii.gz"),
    _r("sizes-analyze-trunc", "sizes analyze {in}/ds_trunc --out {out}/s", "truncated", "case_000.nii.gz"),
    _r("corrupt-trunc", "corrupt --dataset {in}/ds_trunc --level low --out {out}/c", "truncated", "case_000.nii.gz"),
    _r("corrupt-trunc-image", "corrupt --dataset {in}/ds_trunc_img --level low --out {out}/c", "truncated", "case_000.nii.gz"),
    _r("synthesize-trunc", "synthesize-dataset --healthy {in}/healthy_trunc --out {out}/s --classes tiny", "truncated",
       "case_000.nii.gz", rc=1, stream="out", partial_ok=True),
    # ------------------------------------------------ DICOM series with a missing slice
    _r("insert-dicom-gap", "insert --image {in}/dicom_gap --label {in}/seg.nii.gz --out {out}/x", "gap", "{in}/dicom_gap"),
    _r("predict-dicom-gap", "predict --model {in}/model --image {in}/dicom_gap --out {out}/p.nii.gz --device cpu", "gap", "{in}/dicom_gap"),
    _r("check-nih-dicom-gap", "dataset check {in}/nih_gap", "gap", "PANCREAS_0001", rc=1, stream="out"),
    _r("insert-dicom-gap-instances", "insert --image {in}/dicom_gap --label {in}/seg.nii.gz --out {out}/x", "missing instance number", "{in}/dicom_gap"),
    # ------------------------------------------------ outputs equal to, containing or inside an input
    _r("predict-out-is-image", "predict --model {in}/model --image {in}/ct.nii.gz --out {in}/ct.nii.gz", "is the input", "{in}/ct.nii.gz"),
    _r("predict-out-symlink-to-image", "predict --model {in}/model --image {in}/ct.nii.gz --out {in}/link_to_ct.nii.gz", "is the input", "link_to_ct.nii.gz"),
    _r("predict-out-inside-model", "predict --model {in}/model --image {in}/ct.nii.gz --out {in}/model/seg.nii.gz", "inside the input", "{in}/model"),
    _r("insert-out-holds-inputs", "insert --image {in}/ctdir/image.nii.gz --label {in}/ctdir/label.nii.gz --out {in}/ctdir", "contains the input", "{in}/ctdir"),
    _r("insert-out-contains-inputs", "insert --image {in}/ctdir/image.nii.gz --label {in}/ctdir/label.nii.gz --out {in}", "contains the input", "{in}"),
    _r("sizes-analyze-out-inside", "sizes analyze {in}/ds --out {in}/ds/sizes", "inside the input", "{in}/ds"),
    _r("texture-fit-out-inside", "texture fit {in}/ds --out {in}/ds/x.json", "inside the input", "{in}/ds"),
    _r("synthesize-out-inside", "synthesize-dataset --healthy {in}/healthy --out {in}/healthy/syn", "inside the input", "{in}/healthy"),
    _r("synthesize-out-is-input", "synthesize-dataset --healthy {in}/healthy --out {in}/healthy", "is the input", "{in}/healthy"),
    _r("train-seg-out-inside", "train segmenter --dataset {in}/ds --out {in}/ds/model", "inside the input", "{in}/ds"),
    _r("train-seg-config-out-inside", "train segmenter --config {in}/cfg_in_ds.json --out {in}/ds/model", "inside the input", "{in}/ds"),
    _r("evaluate-out-inside-ref", "evaluate --pred {in}/pred --ref {in}/ds --out {in}/ds/eval", "inside the input", "{in}/ds"),
    _r("evaluate-out-is-pred", "evaluate --pred {in}/pred --ref {in}/ds --out {in}/pred", "is the input", "{in}/pred"),
    _r("nnunet-train-work-inside", "nnunet train --dataset {in}/ds --work {in}/ds/work --device cpu", "inside the input", "{in}/ds"),
    _r("nnunet-predict-out-inside-images", "nnunet predict --work {in}/nnwork --images {in}/ds --out {in}/ds/pred", "inside the input", "{in}/ds"),
    _r("corrupt-out-inside", "corrupt --dataset {in}/ds --level low --out {in}/ds/noisy", "inside the input", "{in}/ds"),
    _r("corrupt-out-contains", "corrupt --dataset {in}/ds --level low --out {in}", "contains the input", "{in}"),
    _r("check-json-inside", "dataset check {in}/ds --json {in}/ds/report.json", "inside the input", "{in}/ds"),
    _r("export-into-dataset", "dataset export-nnunet {in}/ds --out {in}/ds --id 501 --name X", "inside the input", "{in}/ds"),
    _r("train-ae-out-inside", "train autoencoder {in}/ds --out {in}/ds/ae", "inside the input", "{in}/ds"),
    _r("train-diffusion-out-inside-ae", "train diffusion {in}/ds --autoencoder {in}/model --out {in}/model/tex", "inside the input", "{in}/model"),
    _r("study-out-inside-dataset", "study run {in}/spec_in_ds.json --out {in}/ds/study --dry-run", "inside the input", "{in}/ds"),
    # ------------------------------------------------ absurd sizes, σ and counts (hangs, PiB allocations)
    _r("insert-bulge-1e9", INSERT + " --bulge-mm 1e9", "bulge_mm", "bulge_mm"),
    _r("insert-bulge-beyond-image", INSERT + " --bulge-mm 500", "larger than the image", "bulge_mm"),
    _r("insert-sigma-1e6", INSERT + " --sigma-mm 1e6", "sigma_mm", "sigma_mm"),
    _r("insert-radii-1e9", INSERT + " --radii-mm 1e9,1,1", "radii_mm", "radii_mm"),
    _r("insert-count-1e6", INSERT + " --count 1000000", "count", "count"),
    _r("insert-classes-radius-1e9", INSERT + " --classes {in}/classes_huge.json --size-class tiny", "range_mm", "{in}/classes_huge.json"),
    _r("sizes-show-radius-1e9", "sizes show {in}/classes_huge.json", "range_mm", "{in}/classes_huge.json"),
    _r("corrupt-sigma-1e6", "corrupt --dataset {in}/ds --sigma-mm 1e6 --out {out}/c", "sigma_mm", "sigma_mm"),
    _r("corrupt-sigma-beyond-image", "corrupt --dataset {in}/ds --sigma-mm 500 --out {out}/c", "larger than image", "sigma_mm"),
    _r("corrupt-control-points-1e5", "corrupt --dataset {in}/ds --level low --control-points 100000 --out {out}/c", "control_points", "control_points"),
    _r("train-seg-crop-1e5", "train segmenter --dataset {in}/ds --crop-size 100000 --out {out}/m", "memory budget", "crop"),
    _r("train-seg-config-crop-1e5", "train segmenter --config {in}/cfg_crop.json --out {out}/m", "memory budget", "crop"),
    _r("synthesize-bulge-1e9", "synthesize-dataset --healthy {in}/healthy --out {out}/s --bulge-mm 1e9", "bulge_mm", "bulge_mm"),
    # ------------------------------------------------ tampered replay records
    _r("replay-tumours-not-list", INSERT + " --replay {in}/rec_x.json", "must be a list", "{in}/rec_x.json"),
    _r("replay-semi-axes-1e7", INSERT + " --replay {in}/rec_huge.json", "semi_axes_mm", "{in}/rec_huge.json"),
    _r("replay-box-far-away", INSERT + " --replay {in}/rec_box.json", "far outside", "{in}/rec_box.json"),
    _r("replay-record-is-list", INSERT + " --replay {in}/rec_list.json", "not an insert_tumours record", "{in}/rec_list.json"),
    _r("replay-invalid-json", INSERT + " --replay {in}/rec_badjson.json", "not valid JSON", "{in}/rec_badjson.json"),
    _r("replay-is-folder", INSERT + " --replay {in}/adir", "is a folder", "{in}/adir"),
    # ------------------------------------------------ an output that is an existing folder / file of the wrong kind
    _r("check-json-is-dir", "dataset check {in}/ds --json {in}/adir", "existing folder", "{in}/adir"),
    _r("check-markdown-is-dir", "dataset check {in}/ds --markdown {in}/adir", "existing folder", "{in}/adir"),
    _r("texture-fit-out-is-dir", "texture fit {in}/ds --out {in}/adir", "existing folder", "{in}/adir"),
    _r("insert-out-is-file", "insert --image {in}/ct.nii.gz --label {in}/seg.nii.gz --out {in}/afile.txt", "not a folder", "{in}/afile.txt"),
    _r("sizes-analyze-out-is-file", "sizes analyze {in}/ds --out {in}/afile.txt", "not a folder", "{in}/afile.txt"),
    _r("evaluate-out-is-file", "evaluate --pred {in}/pred --ref {in}/ds --out {in}/afile.txt", "not a folder", "{in}/afile.txt"),
    # ------------------------------------------------ predict's pancreas mask
    _r("predict-pancreas-no-overlap", PREDICT + " --pancreas-label {in}/seg_far.nii.gz", "does not overlap", "{in}/seg_far.nii.gz"),
    _r("predict-pancreas-margin-negative", PREDICT + " --pancreas-label {in}/seg.nii.gz --pancreas-margin -5", "pancreas_margin_mm", "pancreas_margin_mm"),
    _r("predict-pancreas-float", PREDICT + " --pancreas-label {in}/segfloat.nii.gz", "non-integer", "{in}/segfloat.nii.gz"),
    # ------------------------------------------------ negative numbers on the command line
    _r("insert-at-negative-coordinates", INSERT + " --at -20.5,12,95", "outside the image", "-20.5"),
    _r("insert-radii-negative", INSERT + " --radii-mm -5,5,5", "> 0 mm", "radii_mm"),
    _r("corrupt-sigma-negative", "corrupt --dataset {in}/ds --sigma-mm -1 --out {out}/c", "sigma_mm", "sigma_mm"),
    # ------------------------------------------------ silent fall-backs: an invalid dataset.json
    _r("list-dataset-json-truncated", "dataset list {in}/dsj_trunc", "not valid JSON", "{in}/dsj_trunc/dataset.json"),
    _r("list-dataset-json-list", "dataset list {in}/dsj_list", "JSON object", "{in}/dsj_list/dataset.json"),
    _r("list-dataset-json-no-training", "dataset list {in}/dsj_nokey", "neither an MSD", "{in}/dsj_nokey/dataset.json"),
    _r("check-dataset-json-truncated", "dataset check {in}/dsj_trunc", "not valid JSON", "{in}/dsj_trunc/dataset.json"),
    # ------------------------------------------------ messages
    _r("insert-float-label", "insert --image {in}/ct.nii.gz --label {in}/segfloat.nii.gz --organ-label 7 --out {out}/x", "7.5", "{in}/segfloat.nii.gz"),
    _r("insert-organ-value-absent", "insert --image {in}/ct.nii.gz --label {in}/seg.nii.gz --organ-label 7 --out {out}/x", "no voxels with label value 7", "{in}/seg.nii.gz"),
    _r("train-seg-resume-crafted-pickle", "train segmenter --config {in}/segrun/cfg.json --out {in}/segrun/out --resume", "refused", "last.pt"),
    _r("nnunet-predict-crafted-pickle", "nnunet predict --work {in}/nnwork --images {in}/ds --out {out}/p --device cpu", "refused", "checkpoint_final.pth"),
    _r("insert-texture-bad-version", INSERT + " --texture {in}/tex_badversion", "VERSION", "{in}/tex_badversion"),
    _r("insert-texture-broken-json", INSERT + " --texture {in}/texture_broken.json", "not valid JSON", "{in}/texture_broken.json"),
    _r("synthesize-texture-broken-json", "synthesize-dataset --healthy {in}/healthy --out {out}/s --texture {in}/texture_broken.json",
       "not valid JSON", "{in}/texture_broken.json"),
    _r("study-dry-run-missing-dataset", "study run {in}/spec_missing.json --out {out}/st --dry-run", "not found", "no_such_dataset"),
    _r("nnunet-train-cuda-without-gpu", "nnunet train --dataset {in}/ds --work {out}/w --device cuda", "no CUDA GPU", "cuda",
       skip_if_cuda=True),
    # ------------------------------------------------ published models (never the network)
    _r("models-list-catalogue-missing", "models list --catalogue {in}/no_catalogue.json", "not found",
       "{in}/no_catalogue.json"),
    _r("models-download-unknown-name", "models download nosuch --out {out}/d --yes", "no model named", "nosuch"),
    _r("models-import-crafted-pickle", "models import difftumor-segmenter --checkpoint {in}/evil_segmenter.pt --arch unet "
       "--organ pancreas --out {out}/m", "refusing to load", "evil_segmenter.pt"),
    _r("models-verify-missing", "models verify {in}/no_model", "not found", "{in}/no_model"),
]
