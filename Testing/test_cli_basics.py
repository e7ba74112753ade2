"""The CLI: ``syntumor --help``, ``python -m SynTumorLib --help`` and ``--help`` of every command and
sub-command, discovered from the parser so that new commands are covered automatically."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from SynTumorLib.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def _command_paths(parser: argparse.ArgumentParser, prefix=()) -> list[tuple[str, ...]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((*prefix, name))
                out.extend(_command_paths(sub, (*prefix, name)))
    return out


COMMANDS = _command_paths(build_parser())


def test_commands_are_discovered():
    assert ("dataset",) in COMMANDS and ("dataset", "check") in COMMANDS and ("train",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p))
def test_every_command_has_help(path, capsys):
    with pytest.raises(SystemExit) as e:
        main([*path, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: syntumor " + " ".join(path))


@pytest.mark.parametrize("argv", [[sys.executable, "-m", "SynTumorLib", "--help"],
                                  [str(Path(sys.executable).with_name("syntumor")), "--help"]],
                         ids=["python -m SynTumorLib", "syntumor"])
def test_entry_points(argv):
    if not Path(argv[0]).exists():
        pytest.skip(f"{argv[0]} is not installed (pip install -e .)")
    r = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8", timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "usage: syntumor" in r.stdout and "dataset" in r.stdout


def test_input_error_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["dataset", "list", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("syntumor dataset: error: ") and "not found" in err and "\n" not in err
