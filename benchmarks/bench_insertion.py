"""Tumour-insertion benchmarks, side by side in one run (never run by the test suite).

1. One insertion (statistical texture, medium class) into a 512×512×120 CT at 0.8×0.8×2.5 mm:
   our region-only insertion against the same texture step run on the whole volume (the naive
   approach), and against the 0.5 s target.
2. The online transform ``SynthesizeTumourd`` on a 96³ crop (1 mm): ms per call per class, and for
   the training setting (mixed, p = 0.5), against the 50 ms target.
3. Delivered vs nominal tumour volume per class on the real pancreas of ``../shared/data``
   (TotalSegmentator CT resampled to 1 mm, a 96³ crop around the pancreas, 40 draws per class):
   our placement against the reference rule (DESIGN.md, "Delivered size is the point of a size class").

Prints the tables and writes them to ``docs/results/insertion.md`` (``--results DIR``, ``--no-results``).

Usage::

    python benchmarks/bench_insertion.py [--draws 40] [--skip-whole-volume] [--json out.json] [--gallery docs/img]
    python benchmarks/bench_insertion.py --draws 2 --repeats 1 --calls 2 --skip-whole-volume   # quickest
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from SynTumorLib import InputError, Volume, read_volume  # noqa: E402
from SynTumorLib.geometry.sizes import load_size_classes  # noqa: E402
from SynTumorLib.insertion import insert_tumours  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "totalsegmentator-example"

from SynTumorLib.utils.results import ResultsPage  # noqa: E402


def synthetic_abdomen(shape=(120, 512, 512), spacing=(0.8, 0.8, 2.5), seed=0) -> tuple[Volume, Volume]:
    """Air, an elliptic body (40 HU), a curved pancreas (100 HU, ≈ 24 mm thick, 150 mm long), noise."""
    rng = np.random.default_rng(seed)
    k = np.arange(shape[0])[:, None, None]
    j = np.arange(shape[1])[None, :, None]
    i = np.arange(shape[2])[None, None, :]
    z, y, x = (k - shape[0] / 2) * spacing[2], (j - shape[1] / 2) * spacing[1], (i - shape[2] / 2) * spacing[0]
    img = np.full(shape, -1000, np.int16)
    img[np.broadcast_to((x / 170) ** 2 + (y / 120) ** 2 < 1, shape)] = 40
    tube = ((y - 10 * np.sin(x / 40)) ** 2 / 12**2 + (z / 10) ** 2 < 1) & (np.abs(x) < 75)
    img[tube] = 100
    img += rng.normal(0, 12, shape).astype(np.int16)
    vol = Volume.from_geometry(img, spacing=spacing)
    return vol, vol.with_array(tube.astype(np.uint8))


def bench_big(repeats: int, whole_volume: bool) -> dict:
    image, label = synthetic_abdomen()
    times, cpu = [], []
    for s in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out, lab, rec = insert_tumours(image, label, "medium", seed=s)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    res = {"shape": list(image.shape), "spacing": list(image.spacing), "median_s": float(np.median(times)),
           "max_s": float(np.max(times)), "median_cpu_s": float(np.median(cpu)), "target_s": 0.5}
    if whole_volume:
        # the naive approach: the same texture step on the whole CT (distance transforms, filters)
        from SynTumorLib.texture import get_texture

        tex = get_texture("statistical")
        t = time.perf_counter()
        tex.apply(image.array.astype(np.float32), lab.array == 2, label.array == 1, image.array_spacing, rec["tumours"][0]["texture"])
        res["whole_volume_texture_s"] = time.perf_counter() - t
        res["speedup_vs_whole_volume"] = res["whole_volume_texture_s"] / res["median_s"]
    return res


def bench_transform(calls: int) -> dict:
    import torch

    from SynTumorLib.data.intensity import window
    from SynTumorLib.insertion.transform import SynthesizeTumourd

    torch.set_num_threads(1)
    k, j, i = np.indices((96, 96, 96))
    y, x, z = j - 48, i - 48, k - 48
    tube = ((y - 6 * np.sin(x / 18)) ** 2 + (z / 1.2) ** 2 < 9**2) & (abs(x) < 44)
    hu = np.where(tube, 100.0, np.where((x / 40) ** 2 + (y / 40) ** 2 < 1, 40.0, -100.0))
    hu += np.random.default_rng(0).normal(0, 12, hu.shape)
    d = {"image": torch.as_tensor(window(hu)[None]), "label": torch.as_tensor(tube[None].astype(np.uint8))}
    res = {}
    for cls, prob in (("tiny", 1.0), ("small", 1.0), ("medium", 1.0), ("large", 1.0), ("mixed", 1.0), ("mixed", 0.5)):
        t = SynthesizeTumourd(size_class=cls, prob=prob, intensity="window", record_key=None)
        t.set_random_state(seed=0)
        times, cpu, applied = [], [], 0
        for _ in range(calls):
            s, c = time.perf_counter(), time.process_time()
            t(d)
            times.append(time.perf_counter() - s)
            cpu.append(time.process_time() - c)
            applied += t.last_record["applied"]
        res[f"{cls} p={prob}"] = {"mean_ms": 1000 * float(np.mean(times)), "median_ms": 1000 * float(np.median(times)),
                                  "mean_cpu_ms": 1000 * float(np.mean(cpu)), "applied": applied, "calls": calls}
    return res


def real_1mm() -> tuple[Volume, Volume]:
    from SynTumorLib.data.resample import resample_to_spacing

    ct = resample_to_spacing(read_volume(REAL / "ct.nii.gz"), 1.0, interpolation="linear")
    seg = resample_to_spacing(read_volume(REAL / "seg_multilabel.nii.gz"), 1.0, is_label=True)
    return ct, seg


def real_crop() -> tuple[Volume, Volume]:
    ct, seg = real_1mm()
    idx = np.argwhere(seg.array == 7)
    c = ((idx.min(0) + idx.max(0)) // 2).astype(int)
    box = tuple(slice(max(int(ci) - 48, 0), max(int(ci) - 48, 0) + 96) for ci in c)
    return ct.crop(box), seg.crop(box)


def bench_delivered(draws: int) -> dict:
    ct, seg = real_crop()
    sizes = load_size_classes("syntumor")
    res = {"pancreas_voxels_1mm": int((seg.array == 7).sum()), "crop": list(ct.shape), "draws": draws, "classes": {}}
    for cls in sizes:
        row = {"nominal_mm3": cls.nominal_volume_mm3}
        for mode in ("reference", "random"):
            vols, fails = [], 0
            for s in range(draws):
                try:
                    _, _, rec = insert_tumours(ct, seg, {"size_class": cls.name, "count": 1, "organ_value": 7,
                                                         "placement": mode}, seed=s)
                    vols.append(rec["tumours"][0]["delivered_mm3"])
                except InputError:
                    fails += 1
            v = np.asarray(vols)
            row[mode] = {"median_mm3": float(np.median(v)) if v.size else 0.0,
                         "ratio_to_nominal": float(np.median(v)) / cls.nominal_volume_mm3 if v.size else 0.0,
                         "empty": int((v == 0).sum()), "could_not_place": fails}
        res["classes"][cls.name] = row
    return res


def gallery(out_dir: Path, delivered: dict | None) -> None:
    """docs/img/insertion_gallery.png (ours vs reference per class, real CT) and insertion_delivered.png."""
    from SynTumorLib.viz.overlay import _mpl, save_figure, save_gallery_png

    ct, seg = real_1mm()
    panels = []
    for mode in ("random", "reference"):
        for cls in ("tiny", "small", "medium", "large"):
            img, lab, rec = insert_tumours(ct, seg, {"size_class": cls, "count": 1, "organ_value": 7, "placement": mode}, seed=3)
            t = rec["tumours"][0]
            t.setdefault("centre_kji", None)
            c = np.rint(t["centre_kji"]).astype(int) if t["centre_kji"] is not None else np.array(ct.shape) // 2
            box = tuple(slice(max(int(ci) - h, 0), max(int(ci) - h, 0) + 2 * h) for ci, h in zip(c, (20, 40, 40), strict=False))
            name = "ours" if mode == "random" else "reference"
            panels.append({"image": img.crop(box), "label": lab.crop(box), "contour_only": True,
                           "title": f"{name} {cls}: {t['delivered_mm3'] / 1000:.2f} mL"})
    out_dir.mkdir(parents=True, exist_ok=True)
    save_gallery_png(panels, out_dir / "insertion_gallery.png", ncols=4,
                     title="synthetic tumours on a real pancreas (1 mm): our placement (top) vs the reference rule (bottom)")
    if delivered:
        plt = _mpl()
        fig, ax = plt.subplots(figsize=(6, 3.2))
        names = list(delivered["classes"])
        x = np.arange(len(names))
        for off, mode, colour in ((-0.2, "reference", "0.6"), (0.2, "random", "crimson")):
            ax.bar(x + off, [delivered["classes"][n][mode]["ratio_to_nominal"] for n in names], 0.4,
                   color=colour, label="reference rule" if mode == "reference" else "ours")
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_xticks(x, names)
        ax.set_ylabel("median delivered / nominal volume")
        ax.legend(fontsize=8)
        ax.set_title("delivered tumour size on a real pancreas", fontsize=10)
        save_figure(fig, out_dir / "insertion_delivered.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--skip-whole-volume", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--gallery", type=Path, default=None, help="write the docs figures into this folder (docs/img)")
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page")
    args = ap.parse_args()
    page = ResultsPage("insertion", "Tumour insertion: speed and delivered size",
                       "Wall times include contention from other jobs on the machine (see the load average); CPU "
                       "times are this process's own. torch and BLAS use "
                       f"{os.environ.get('OMP_NUM_THREADS')} thread(s).")
    out = {"cpu_threads": os.environ.get("OMP_NUM_THREADS"), "load_avg": os.getloadavg()}

    big = out["insertion_512x512x120"] = bench_big(args.repeats, not args.skip_whole_volume)
    page.section("One insertion into a clinical CT",
                 f"One medium tumour (statistical texture) into a 512×512×120 CT at 0.8×0.8×2.5 mm, {args.repeats} "
                 "insertions. Target: 0.5 s.")
    rows = [["median wall s", f"{big['median_s']:.3f}"], ["max wall s", f"{big['max_s']:.3f}"],
            ["median CPU s", f"{big['median_cpu_s']:.3f}"], ["median / target", f"{big['median_s'] / 0.5:.2f}"]]
    if "whole_volume_texture_s" in big:
        rows += [["the same texture step on the whole volume, s", f"{big['whole_volume_texture_s']:.2f}"],
                 ["region-only insertion is faster by", f"{big['speedup_vs_whole_volume']:.0f}×"]]
    page.table(["measure", "value"], rows)

    tr = out["transform_96"] = bench_transform(args.calls)
    page.section("Online transform `SynthesizeTumourd` on a 96³ crop",
                 f"{args.calls} calls per setting at 1 mm; target ≤ 50 ms per call.")
    page.table(["setting", "mean ms/call (wall)", "mean CPU ms/call", "median ms", "applied/calls", "wall / target"],
               [(k, f"{v['mean_ms']:.0f}", f"{v['mean_cpu_ms']:.0f}", f"{v['median_ms']:.0f}",
                 f"{v['applied']}/{v['calls']}", f"{v['mean_ms'] / 50:.2f}") for k, v in tr.items()])

    if (REAL / "ct.nii.gz").exists():
        dv = out["delivered_real_pancreas"] = bench_delivered(args.draws)
        page.section("Delivered vs nominal volume on a real pancreas",
                     f"TotalSegmentator CT resampled to 1 mm, 96³ crop around the pancreas "
                     f"({dv['pancreas_voxels_1mm']} organ voxels), {args.draws} draws per class, `syntumor` classes; "
                     "median delivered volume (mm³) and its ratio to the nominal volume, for the reference rule "
                     "(clipped to the organ) and SynTumor's placement.")
        rows = []
        for name, row in dv["classes"].items():
            r, o = row["reference"], row["random"]
            rows.append((name, f"{row['nominal_mm3']:.0f}", f"{r['median_mm3']:.0f}", f"{r['ratio_to_nominal']:.2f}",
                         f"{r['empty']}/{args.draws}", f"{o['median_mm3']:.0f}", f"{o['ratio_to_nominal']:.2f}",
                         f"{o['could_not_place']}/{args.draws}"))
        page.table(["class", "nominal", "reference", "ratio", "empty", "ours", "ratio", "could not place"], rows)
    else:
        page.text("Delivered size: skipped (the real CT `../shared/data/totalsegmentator-example` is absent).")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    if args.gallery and (REAL / "ct.nii.gz").exists():
        gallery(args.gallery, out.get("delivered_real_pancreas"))
        page.figure(args.gallery / "insertion_delivered.png", "median delivered / nominal volume per class",
                    page_dir=args.results)
    if not args.no_results:
        page.write(args.results)


if __name__ == "__main__":
    main()
