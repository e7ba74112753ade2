"""The report's texture section: the diffusion texture the demo trained (or reused) — folder,
SHA-256, steps, seeds, train time, loss logs and samples — and its quality against the statistical
texture on the test split's real tumours, re-textured in their healthy twins.

Both tables carry ``data-source="texture/quality.json"``: the summary table's rows
(``data-texture``) are means over that file's per-tumour ``quality.rows``, and the per-tumour table's
rows (``data-case``, ``data-tumour``) are those rows themselves, so every cell can be recomputed.
"""

from __future__ import annotations

from pathlib import Path

from ..utils.jsonio import read_json

SOURCE = "texture/quality.json"
MEASURES = (("HU mean", "mean"), ("HU std", "std"), ("contrast HU", "contrast"), ("pancreas ring HU", "ring_mean"),
            ("sharpness HU/mm", "sharp"))
DIFFS = (("|Δmean|", "mean"), ("|Δstd|", "std"), ("|Δcontrast|", "contrast"), ("|Δsharp|", "sharp"))


def _f(v, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _seconds(info: dict) -> str:
    parts = [f"{stage} {info[k]:.0f} s" for stage, k in (("autoencoder", "autoencoder_train_seconds"),
                                                           ("diffusion", "diffusion_train_seconds"))
             if info.get(k) is not None]
    return ", ".join(parts) or "–"


def summary_rows(summary: dict) -> list[tuple[dict, list[str]]]:
    """The summary table: the real tumours, then each texture with its |Δ| to them."""
    real = summary["real"]
    rows = [({"texture": "real"}, ["real (phantom)", *[_f(real[k]) for _, k in MEASURES], *["–"] * (len(DIFFS) + 1)])]
    for name, v in summary["textures"].items():
        rows.append(({"texture": name}, [name, *[_f(v[k]) for _, k in MEASURES],
                                         *[_f(v["abs_diff"][k]) for _, k in DIFFS], _f(v["s_per_tumour"], 2)]))
    return rows


def add_texture_section(rep, ctx, number: str) -> list[str]:
    """The texture section; returns the images it shows."""
    tx = ctx.results["texture"]
    q = read_json(ctx.out / SOURCE)
    summary, info, plan, training = q["summary"], q["model"], q["plan"], q["training"]
    s = rep.section(f"{number}. Diffusion texture: trained on the train split, measured on the test split")
    figs: list[str] = []
    if training["reused"]:
        s.paragraph(f"Reused texture model (--texture-model): {info['folder']} — not trained in this run.")
    else:
        ae, dm = training["autoencoder"], training["diffusion"]
        s.paragraph(
            f"The latent-diffusion texture (VQ-GAN autoencoder + conditional latent denoiser, config "
            f"'{plan['config']}') trained on the {len(tx['train_cases'])} training cases of split {tx['split']} "
            f"(linked in {training['data']}; never a test case): autoencoder {info.get('autoencoder_steps')} steps, "
            f"denoiser {info['diffusion_steps']} steps, on {plan['device']} with {training['torch_threads']} torch "
            f"thread(s). This run: autoencoder {'trained' if ae['trained'] else 'kept from an earlier run'} in "
            f"{ae['wall_s']:.0f} s wall / {ae['cpu_s']:.0f} s CPU, denoiser "
            f"{'trained' if dm['trained'] else 'kept from an earlier run'} in {dm['wall_s']:.0f} s wall / "
            f"{dm['cpu_s']:.0f} s CPU.")
    if ctx.budget.name == "tiny":
        s.paragraph("Tiny budget: a few training steps per stage — the chain runs, the model has learned nothing, "
                    "and its numbers say nothing about the method.", cls="note")
    if tx["test_cases_seen_in_training"]:
        s.paragraph(f"The reused model was trained on {len(tx['test_cases_seen_in_training'])} of these test cases "
                    f"({', '.join(tx['test_cases_seen_in_training'])}): its numbers are not held-out.", cls="bad")
    folder = Path(info["folder"])
    inside = folder.is_relative_to(ctx.out)
    s.key_values({"model folder": str(folder.relative_to(ctx.out)) if inside else str(folder), "SHA-256 (config + weights)": info["sha256"],
                  "config": info["config"], "autoencoder steps / seed": f"{info.get('autoencoder_steps')} / "
                  f"{info.get('autoencoder_seed')}", "denoiser steps / seed": f"{info['diffusion_steps']} / "
                  f"{info['diffusion_seed']}", "train time (model cards)": _seconds(info),
                  "training cases": ", ".join(info["train_cases"]),
                  "sampling per size bin": "; ".join(f"{x['scheduler']} {x['steps']} steps" for x in info["sampling"]),
                  "autoencoder held-out (last training case) PSNR dB / SSIM":
                      " / ".join(_f((info.get("autoencoder_metrics") or {}).get(k), d)
                                 for k, d in (("held_out_psnr_db", 2), ("held_out_ssim", 3)))})
    links = [(p, f"{stage} loss log") for stage, p in tx["loss_logs"].items() if not Path(p).is_absolute()]
    links += [(smp["from"], f"{stage} samples") for stage, smp in tx["samples"].items()
              if not Path(smp["from"]).is_absolute()]
    links += [(SOURCE, "quality.json (every tumour, seeds)"), (tx["markdown"], "quality.md")]
    s.links(links, "Files: ")
    if tx.get("loss_plot"):
        s.image(tx["loss_plot"], "Training losses of the autoencoder (L1, commitment, adversarial) and the "
                "denoiser (ε-MSE), from loss_log.csv.")
        figs.append(tx["loss_plot"])
    what = {"autoencoder": "training crops (top) and their reconstructions (bottom)",
            "diffusion": "real training crops (top) and the denoiser's synthetic tumour in the same mask (bottom)"}
    samples = [(smp["src"], f"Last {stage} sample: {what.get(stage, '')}, mid-tumour slices.")
               for stage, smp in tx["samples"].items()]
    if samples:
        s.images(samples)
        figs += [src for src, _ in samples]

    n, skipped = summary["n_tumours"], q["quality"]["skipped"]
    s.paragraph(
        f"Quality on the {len(tx['test_cases'])} test cases ({', '.join(tx['test_cases'])}): each case's healthy twin is "
        "regenerated from its phantom record (same seed, grid and CT noise, no tumour), and each of its "
        f"{n} real tumour(s) is re-textured there by both textures in the real tumour's own mask. Contrast = mean HU "
        "of the pancreas within 5 voxels of the tumour − tumour mean; sharpness = mean |∇HU| on the boundary shell; "
        "|Δ| = mean absolute difference to the real tumour. With this few tumours the means are noisy."
        + (f" Not measured ({len(skipped)}): " + "; ".join(skipped) if skipped else ""))
    ae = summary["autoencoder"]
    if ae:
        s.paragraph(f"Autoencoder reconstruction of the crop around each test tumour (window [−175, 250] → [0, 1]): "
                    f"PSNR {ae['psnr_db_mean']:.2f} ± {ae['psnr_db_sd']:.2f} dB, SSIM {ae['ssim_mean']:.3f} ± "
                    f"{ae['ssim_sd']:.3f} (n = {ae['n']}).")
    header = ["Texture", *[h for h, _ in MEASURES], *[h for h, _ in DIFFS], "s / tumour"]
    s.grouped_table(header, [(None, summary_rows(summary))], SOURCE,
                    f"Test-split tumours (n = {n}): mean over tumours. Source: {SOURCE} (quality.rows).")
    tex = q["textures"]
    per = []
    for r in q["quality"]["rows"]:
        per.append(({"case": r["case"], "tumour": r["tumour"]},
                    [r["case"], str(r["tumour"]), _f(r["d_mm"]), str(r["texture_seed"]),
                     *[_f(r[t]["mean"]) for t in ("real", *tex)], *[_f(r[t]["std"]) for t in ("real", *tex)],
                     _f(r.get("ae_psnr_db"), 2), _f(r.get("ae_ssim"), 3)]))
    s.grouped_table(["case", "tumour", "Ø mm", "texture seed", *[f"{t} mean" for t in ("real", *tex)],
                     *[f"{t} std" for t in ("real", *tex)], "AE PSNR dB", "AE SSIM"], [(None, per)], SOURCE,
                    "Every test tumour (HU); the texture seed is child_seed(case seed, 'tex', tumour).")
    s.image(tx["grid"], "Test tumours: real | healthy twin | diffusion | statistical in the real tumour's mask (red), "
            "axial slice through the tumour centre, window [−175, 250] HU.")
    figs.append(tx["grid"])
    return figs
