"""SynTumorTrain, the Python CLI module: ctk-cli reads the Execution Model XML (Slicer's own parser
checks it in test_slicer_harness_cli.py), the script takes arguments as Slicer passes them (bare
boolean flags, paths, camelCase long flags), prints increasing <filter-progress> values, and rejects
bad arguments with a clear message and a non-zero exit."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLI_DIR = REPO / "SynTumor" / "SynTumorTrain"
SCRIPT = CLI_DIR / "SynTumorTrain.py"
XML = CLI_DIR / "SynTumorTrain.xml"
sys.path.insert(0, str(CLI_DIR))

import SynTumorTrain  # noqa: E402
from slicer_support import run_cli, slicer_style_args, write_config  # noqa: E402


def progress_values(stdout: str) -> list[float]:
    return [float(v) for v in re.findall(r"<filter-progress>([0-9.]+)</filter-progress>", stdout)]


def test_xml_is_a_valid_execution_model_that_ctk_cli_reads():
    ctk_cli = pytest.importorskip("ctk_cli")
    ET.parse(XML)  # well-formed
    module = ctk_cli.CLIModule(str(XML))
    params = {p.name: p for p in module.parameters()}
    assert {"dataset", "healthy", "arm", "noiseLevel", "model", "iterations", "device", "outputFolder"} <= set(params)
    assert params["outputFolder"].channel == "output" and params["dataset"].channel == "input"
    assert params["model"].elements == ["unet", "dynunet", "swinunetr"]
    assert params["arm"].elements == ["none", "tiny", "small", "medium", "large", "mixed"]
    assert params["noiseLevel"].elements == ["none", "low", "moderate", "high", "extreme"]
    # the script's parser is generated from the same XML: same names, same flags
    parser = SynTumorTrain.build_parser()
    flags = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings and a.dest not in ("help", "xml")}
    assert flags == {name: p.longflag for name, p in params.items()}


def test_boolean_flags_bare_or_with_a_value():
    parser = SynTumorTrain.build_parser()
    assert parser.parse_args(["--resume", "--out", "x"]).resume is True  # Slicer: bare flag
    assert parser.parse_args(["--resume", "true"]).resume is True  # ctk-cli: flag + value
    assert parser.parse_args(["--resume", "false"]).resume is False
    assert parser.parse_args([]).resume is False and parser.parse_args([]).dryRun is False


def test_xml_flag_prints_the_description():
    r = run_cli("--xml")
    assert r.returncode == 0 and r.stdout == XML.read_text(encoding="utf-8")


def test_dry_run_as_slicer_calls_it(tmp_path, dataset):
    config = write_config(tmp_path, dataset)
    r = run_cli(*slicer_style_args(dataset, tmp_path / "model", config, "--dryRun"))
    assert r.returncode == 0, r.stderr
    values = progress_values(r.stdout)
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 1.0
    resolved = json.loads(r.stdout[r.stdout.index("{"): r.stdout.rindex("}") + 1])
    assert resolved["iterations"] == 2 and resolved["crop_size"] == [16, 16, 16]
    assert resolved["model"]["args"]["channels"] == [4, 8, 16]  # the config file's network, kept
    assert not (tmp_path / "model" / "model_card.json").exists()  # nothing trained
    assert resolved["data"].get("size_classes") in (None, "syntumor")  # the field left empty: the preset
    r = run_cli(*slicer_style_args(dataset, tmp_path / "model", config, "--dryRun"), "--sizeClasses", "difftumor")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout[r.stdout.index("{"): r.stdout.rindex("}") + 1])["data"]["size_classes"] == "difftumor"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "OUT"], "--dataset is required"),
        (["--dataset", "NOPE", "--out", "OUT"], "--dataset: folder not found"),
        (["--dataset", "DATA"], "--out is required"),
        (["--dataset", "DATA", "--out", "OUT", "--iterations", "0"], "--iterations: must be ≥ 1"),
        (["--dataset", "DATA", "--out", "OUT", "--arm", "large"], "needs --healthy"),
        (["--dataset", "DATA", "--out", "OUT", "--model", "resnet"], "invalid choice: 'resnet'"),
        (["--dataset", "DATA", "--out", "OUT", "--iterations", "many"], "invalid int value"),
        (["--dataset", "DATA", "--out", "OUT", "--batch-size", "2"], "unrecognized arguments: --batch-size"),
        (["--dataset", "DATA", "--out", "OUT", "--iter", "2"], "unrecognized arguments: --iter"),
    ],
)
def test_bad_arguments_give_a_clear_message_and_nonzero_exit(tmp_path, dataset, args, message):
    args = [str(dataset) if a == "DATA" else str(tmp_path / "m") if a == "OUT" else a for a in args]
    r = run_cli(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_training_run_emits_increasing_progress_and_writes_a_model(cli_trained_model):
    model, r = cli_trained_model
    assert r.returncode == 0, r.stderr[-2000:]
    values = progress_values(r.stdout)
    assert len(values) >= 3 and values == sorted(values) and values[-1] == 1.0
    assert "<filter-start>" in r.stdout and "<filter-end>" in r.stdout
    assert (model / "model_card.json").is_file()
    assert f"model folder: {model}" in r.stdout


def test_noise_level_trains_on_a_corrupted_copy_inside_the_output_folder(tmp_path, dataset):
    r = run_cli("--dataset", str(dataset), "--noiseLevel", "high", "--dryRun", "--out", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    resolved = json.loads(r.stdout[r.stdout.index("{"): r.stdout.rindex("}") + 1])
    assert resolved["data"]["noisy_labels"] == str(tmp_path / "m" / "noisy-labels-high")
    assert resolved["data"]["real"] == str(dataset)
