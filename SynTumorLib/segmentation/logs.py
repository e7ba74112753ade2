"""Training logs: ``log.csv`` and ``log.json`` (one row per step; validation columns on validation
steps) and ``loss.png`` (training loss and validation Dice against the step). All written atomically.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_logs(d, [{"step": 1, "loss": 1.2, "lr": 1e-4, "seconds": 0.5}])
    >>> (d / "log.csv").read_text().splitlines()[0]
    'step,loss,lr,seconds,val_tumour_dice,val_pancreas_dice'
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..utils.atomic import write_json_atomic, write_text_atomic

COLUMNS = ("step", "loss", "lr", "seconds", "val_tumour_dice", "val_pancreas_dice")


def write_logs(folder: Path, history: list[dict], plot: bool = False) -> None:
    folder = Path(folder)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: row.get(k, "") for k in COLUMNS})
    write_text_atomic(folder / "log.csv", buf.getvalue())
    write_json_atomic(folder / "log.json", history)
    if plot:
        plot_losses(folder / "loss.png", history)


def plot_losses(path: Path, history: list[dict]) -> None:
    """Loss curve (left axis, log scale) and validation Dice (right axis)."""
    from ..viz import pyplot, save_figure

    plt = pyplot()
    steps = [r["step"] for r in history]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(steps, [r["loss"] for r in history], lw=0.8, color="tab:blue", label="training loss (Dice+CE)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if history and min(r["loss"] for r in history) > 0:
        ax.set_yscale("log")
    val = [r for r in history if r.get("val_tumour_dice") is not None]
    if val:
        ax2 = ax.twinx()
        ax2.plot([r["step"] for r in val], [r["val_tumour_dice"] for r in val], "o-", color="tab:red", label="val tumour Dice")
        ax2.plot([r["step"] for r in val], [r["val_pancreas_dice"] for r in val], "s-", color="tab:green",
                 label="val pancreas Dice")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("validation Dice")
        ax2.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=None, tight=False)
