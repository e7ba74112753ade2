"""The SynTumorTrain CLI module against Slicer's own CLI machinery.

* Its XML parses with SlicerExecutionModel's ModuleDescriptionParser at the revision Slicer 5.10
  and 5.12 pin (``sem_check``, built from ``../shared/slicer/sem``) — a description it rejects never
  becomes a module (AUDIT A2: hyphenated ``<longflag>``s).
* The script accepts exactly the command lines Slicer builds from that description
  (``vtkSlicerCLIModuleLogic``: ``--flag value``, bare booleans, empty files and folders left out),
  built here from the parameters as Slicer's parser read them (``sem_dump``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from slicer_harness import SYNTUMOR
from slicer_harness.sem import command_line, tools

CLI_DIR = SYNTUMOR / "SynTumorTrain"
XML = CLI_DIR / "SynTumorTrain.xml"
sys.path.insert(0, str(CLI_DIR))

import SynTumorTrain  # noqa: E402


@pytest.fixture(scope="module")
def sem():
    return tools()


@pytest.fixture(scope="module")
def parameters(sem):
    return sem.parameters(XML)


def test_slicer_accepts_the_cli_description(sem):
    r = sem.check(XML)
    assert r.returncode == 0, f"Slicer's ModuleDescriptionParser rejects SynTumorTrain.xml:\n{r.stdout}{r.stderr}"


def test_the_checker_can_fail(sem, tmp_path):
    """sem_check rejects what Slicer rejects (a hyphenated long flag), so the test above can fail."""
    bad = tmp_path / "bad.xml"
    bad.write_text(XML.read_text(encoding="utf-8").replace("<longflag>batchSize<", "<longflag>batch-size<"))
    r = sem.check(bad)
    assert r.returncode == 1 and "batch-size" in r.stdout + r.stderr


def expected(p, value: str):
    """What the script must make of a value Slicer stored for parameter ``p``."""
    if p.tag == "boolean":
        return value == "true"
    if p.tag == "integer":
        return int(value)
    if p.tag in ("float", "double"):
        return float(value)
    if p.tag in ("file", "directory") and value == "":
        return None
    return value


def node_values(parameters, tmp_path) -> list[dict[str, str]]:
    """Settings a user can make in the CLI module panel, as the CLI node stores them (strings)."""
    paths = {"file": str(tmp_path / "some file.json"), "directory": str(tmp_path / "a folder")}
    everything = {p.name: paths.get(p.tag, p.value) for p in parameters}
    everything.update({p.name: "true" for p in parameters if p.tag == "boolean"})
    cases = [{}, everything, {p.name: "" for p in parameters if p.tag in ("file", "directory")}]
    for p in parameters:  # every element of every enumeration
        cases += [{p.name: e} for e in p.elements]
    for p in parameters:
        if p.tag == "integer":
            cases.append({p.name: "7"})
    return cases


def test_the_script_accepts_every_command_line_slicer_builds(parameters, tmp_path):
    parser = SynTumorTrain.build_parser()
    assert {p.name for p in parameters} == {a.dest for a in parser._actions if a.dest not in ("help", "xml")}
    for values in node_values(parameters, tmp_path):
        argv = command_line(parameters, values)
        try:
            ns = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"the script refuses Slicer's command line {argv}")
        for p in parameters:
            value = values.get(p.name, p.value)
            assert getattr(ns, p.name) == expected(p, value), f"{p.name}: Slicer passed {value!r} in {argv}"


def test_booleans_are_bare_flags_and_empty_paths_are_left_out(parameters):
    """What the command line looks like (so the test above covers these forms)."""
    booleans = [p for p in parameters if p.tag == "boolean"]
    paths = [p for p in parameters if p.tag in ("file", "directory")]
    assert booleans and paths
    argv = command_line(parameters, {**{p.name: "true" for p in booleans}, **{p.name: "" for p in paths}})
    for p in booleans:
        i = argv.index("--" + p.longflag)
        assert i == len(argv) - 1 or argv[i + 1].startswith("--")  # no value after a boolean
    assert not {"--" + p.longflag for p in paths} & set(argv)


def test_a_slicer_command_line_runs_the_script(parameters, tmp_path):
    """Run the script as Slicer does (its own process, the command line built above) on a dry run:
    the empty required folder is reported in one line, and a filled-in one checks the inputs."""
    r = subprocess.run([sys.executable, str(CLI_DIR / "SynTumorTrain.py"), *command_line(parameters)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--dataset is required" in r.stderr and "Traceback" not in r.stderr
