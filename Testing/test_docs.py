"""The documentation: generated pages in sync with their generators, no machine paths in any page,
the generators covering every command, config field and subpackage, and the results-page helper.

The site itself is built strictly by ``.ci/run`` (``bash tools/bootstrap.sh docs``), not here."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from SynTumorLib.utils.errors import InputError
from SynTumorLib.utils.results import (
    ResultsPage,
    find_machine_paths,
    markdown_table,
    page_meta,
    relative_command,
    render_index,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ----------------------------------------------------------------------------- generated pages in sync
def test_generated_reference_pages_are_current():
    stale = _tool("build_docs").stale()
    assert not stale, f"out of date, run python tools/build_docs.py: {stale}"


def test_readme_is_current():
    assert _tool("build_readme").main(["--check"]) == 0, "README.md is out of date: run python tools/build_readme.py"


def _doc_files() -> list[Path]:
    files = [p for p in (REPO / "docs").rglob("*.md")]
    return files + [REPO / "README.md", REPO / "mkdocs.yml", REPO / "CITATION.cff"]


def test_no_page_embeds_a_path_of_this_machine():
    bad = {}
    for p in _doc_files():
        found = find_machine_paths(p.read_text(encoding="utf-8"), REPO)
        if found:
            bad[str(p.relative_to(REPO))] = found
    assert not bad, f"machine-local paths in docs pages: {bad}"


# ----------------------------------------------------------------------------- generators cover the code
def test_cli_reference_documents_every_command_and_option():
    from docsgen import cli_reference

    from SynTumorLib.cli.main import build_parser

    parser = build_parser()
    text = (REPO / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    progs = cli_reference.commands(parser)
    assert {"syntumor insert", "syntumor train segmenter", "syntumor study run", "syntumor nnunet predict"} <= set(progs)
    for prog in progs:
        assert f"`{prog}` {{ #" in text, f"no section for {prog}"
    insert = next(a for a in parser._actions if a.dest == "command").choices["insert"]
    for action in insert._actions:
        for opt in action.option_strings:
            if opt not in ("-h", "--help"):
                assert f"`{opt}`" in text


def test_cli_reference_does_not_depend_on_the_terminal(monkeypatch):
    from docsgen import cli_reference

    from SynTumorLib.cli.main import build_parser

    monkeypatch.setenv("COLUMNS", "40")
    narrow = cli_reference.page(build_parser())
    monkeypatch.setenv("COLUMNS", "200")
    assert cli_reference.page(build_parser()) == narrow


def test_config_reference_lists_every_field_with_its_default():
    from SynTumorLib.insertion.spec import InsertionSpec
    from SynTumorLib.segmentation.config import DATA_DEFAULTS, TrainConfig
    from SynTumorLib.segmentation.nnunet.config import NNUNetConfig

    text = (REPO / "docs" / "reference" / "config.md").read_text(encoding="utf-8")
    for cls in (TrainConfig, NNUNetConfig, InsertionSpec):
        for f in dataclasses.fields(cls):
            if not f.name.startswith("_"):
                assert f"| `{f.name}` |" in text, f"{cls.__name__}.{f.name} missing"
    for key in DATA_DEFAULTS:  # a dict section is expanded key by key, with the comment beside the key
        assert f"| `data.{key}` |" in text
    assert "| `batch_size` | `int` | `2` | per process" in text


def test_config_reference_reads_args_sections_and_line_comments():
    from docsgen.config_reference import dataclass_table, field_docs

    @dataclasses.dataclass
    class Demo:
        """A config.

        Args:
            alpha, beta: two numbers
                on two lines.
        """

        alpha: int = 1
        beta: float = 2.0
        gamma: str = "x"  # the third
        delta: dict = dataclasses.field(default_factory=dict)

    docs = field_docs(Demo)
    assert docs == {"alpha": "two numbers on two lines.", "beta": "two numbers on two lines.", "gamma": "the third"}
    table = dataclass_table(Demo)
    assert "| `gamma` | `str` | `\"x\"` | the third |" in table and "| `delta` | `dict` | `{}` |  |" in table


def test_api_reference_covers_the_public_api_and_every_subpackage():
    from docsgen import api_reference

    import SynTumorLib

    pages = api_reference.pages(REPO)
    index = pages["reference/api/index.md"]
    for name in SynTumorLib.__all__:
        if not name.startswith("__"):
            assert f"[`{name}`][" in index, f"{name} missing from the API index"
    packages = sorted(p.name for p in (REPO / "SynTumorLib").iterdir() if (p / "__init__.py").exists() and p.name != "cli")
    assert sorted(Path(k).stem for k in pages if k != "reference/api/index.md") == packages
    # the lazy names resolve to where they are defined (a cross-reference the strict build checks)
    assert "[`insert_tumours`][SynTumorLib.insertion.insert.insert_tumours]" in index
    assert "[`LoadedModel`][SynTumorLib.segmentation.model_folder.LoadedModel]" in pages["reference/api/segmentation.md"]


def test_docstring_conversion_for_the_api_reference():
    from docsgen.griffe_docstrings import convert

    doc = "Sum.\n\nExample:\n    >>> d = {'a': [1]}\n    >>> d['a'][0]\n    1\n\nSee :func:`~SynTumorLib.metrics.dice`::\n"
    out = convert(doc)
    assert "Examples:\n    >>> d = {'a': [1]}" in out and "See ``dice``:" in out
    assert convert("Example::\n\n    syntumor demo\n") == "Example:\n\n    syntumor demo"  # a shell block stays a block
    # a doctest in the body (no Example heading) becomes a code block, not nested Markdown quotes
    assert convert("Sum.\n\n>>> f(1)\n2\n\nMore.") == "Sum.\n\n```pycon\n>>> f(1)\n2\n```\n\nMore."
    grouped = convert("Args:\n    pred, ref: label maps.\n    level / sigma_mm: one of them.\n")
    assert grouped.splitlines()[1:] == ["    pred: label maps.", "    ref: label maps.", "    level: one of them.",
                                        "    sigma_mm: one of them."]


# ----------------------------------------------------------------------------- results pages
def test_results_page_records_how_when_and_where(tmp_path):
    page = ResultsPage("bench-x", "Bench X", "What it measures.", command="python benchmarks/bench_x.py --quick",
                       echo=False)
    page.section("Speed", "Seconds.")
    page.table(["case", "wall s"], [["small", 0.5], ["large", 12.345]])
    path = page.write(tmp_path)
    text = path.read_text(encoding="utf-8")
    meta = page_meta(path)
    assert meta["title"] == "Bench X" and meta["command"] == "python benchmarks/bench_x.py --quick"
    assert meta["cores"] >= 1 and isinstance(meta["gpus"], list) and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", meta["date"])
    for stamp in ("| command | `python benchmarks/bench_x.py --quick` |", "| commit |", "| machine |", "CPU cores",
                  "| load average |", "| large | 12.3 |", "## Speed"):
        assert stamp in text
    assert meta["commit"] == "unknown (not a git checkout)"
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    assert "[Bench X](bench-x.md)" in index and index == render_index(tmp_path)
    # a new run replaces the page: superseded runs are not kept
    again = ResultsPage("bench-x", "Bench X again", command="python benchmarks/bench_x.py", echo=False)
    again.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench-x.md", "index.md"]
    assert "Bench X again" in (tmp_path / "index.md").read_text(encoding="utf-8")


def test_results_page_built_after_the_work_stamps_the_run_from_its_start(tmp_path):
    """Benchmarks build their page once they have measured: the date, the duration and the load at
    the start must still be the run's (not 'the run took 0 s' with the run's own load as the start)."""
    script = ("import os, sys, time\n"
              "from SynTumorLib.utils import results\n"
              "time.sleep(2.2)\n"
              "os.getloadavg = lambda: (7.0, 7.0, 7.0)  # the load the work itself caused\n"
              "page = results.ResultsPage('late', 'Late', command='python benchmarks/bench_x.py', echo=False)\n"
              "page.write(sys.argv[1])\n")
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, cwd=REPO,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    path = tmp_path / "late.md"
    meta, text = page_meta(path), path.read_text(encoding="utf-8")
    took = int(re.search(r"the run took (\d+) s", text).group(1))
    assert took >= 2, text
    assert meta["load_end"] == [7.0, 7.0, 7.0] and meta["load_start"] != [7.0, 7.0, 7.0]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_results_page_names_the_commit_and_uncommitted_changes(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True).stdout.strip()
    out = tmp_path / "docs" / "results"
    page = ResultsPage("p", "P", command="python b.py", echo=False)
    assert page_meta(page.write(out))["commit"] == head
    (tmp_path / "a.txt").write_text("2")
    assert page_meta(page.write(out))["commit"] == f"{head} (with uncommitted changes)"


def test_results_page_refuses_a_path_of_this_machine(tmp_path):
    page = ResultsPage("leaky", "Leaky", command="python benchmarks/bench_x.py", echo=False)
    page.text(f"made from {REPO / 'benchmarks'}")
    with pytest.raises(InputError, match="paths of this machine"):
        page.write(tmp_path)
    assert not (tmp_path / "leaky.md").exists()
    with pytest.raises(InputError, match="results page name"):
        ResultsPage("../escape", "x")


def test_machine_paths_and_commands():
    assert find_machine_paths("see /home/jdoe/x.py and /Users/bo/y") == ["/home/jdoe/", "/Users/bo/"]
    assert find_machine_paths(f"{Path.home()}/data", REPO) != []
    assert find_machine_paths(str(REPO / "docs"), REPO) != []
    # example paths in how-to pages are not paths of this machine
    assert find_machine_paths("--set datasets.real=/data/Task07_Pancreas --work /tmp/nn /path/to/Slicer-build", REPO) == []
    assert find_machine_paths("a temporary /tmp/tmpab12cd/x and /tmp/pytest-of-root/p0") == ["/tmp/tmp", "/tmp/pytest-of-"]
    cmd = relative_command([str(REPO / "benchmarks" / "bench_x.py"), "--out", "/elsewhere/runs", "a b"], REPO)
    assert cmd == 'python benchmarks/bench_x.py --out runs "a b"'
    assert markdown_table(["a"], [[0.0001234], [1234.5]]) == "| a |\n|---|\n| 0.000123 |\n| 1234 |"
