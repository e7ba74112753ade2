"""Nothing that Slicer, the CLI module or the worker imports is POSIX-only (Slicer runs on Windows
too): no POSIX-only standard module (``resource``, ``fcntl``, ``pwd``, …) is imported by any SynTumor
module they load, and POSIX-only ``os``/``signal`` calls sit behind a check for the platform."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSIX_ONLY_MODULES = {"resource", "fcntl", "pwd", "grp", "termios", "tty", "pty", "crypt", "syslog", "posix",
                      "spwd", "nis", "readline"}
POSIX_ONLY_CALLS = {"killpg", "setsid", "fork", "getuid", "geteuid", "getpgid", "setpgrp", "getppid_posix",
                    "SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD"}
ENTRY_POINTS = """
import sys
sys.path[:0] = ["Testing", "SynTumor/SynTumorTrain"]
import slicer_harness
import SynTumorInsertionLib.logic, SynTumorInsertionLib.sample_data, SynTumorLabelNoiseLib.logic
import SynTumorSegmentationLib.logic, SynTumorCommon.worker, SynTumorCommon.dependencies, SynTumorCommon.worker_main
import SynTumorTrain
# what the worker's tasks and the CLI module's run() import when they run
import SynTumorLib.insertion, SynTumorLib.metrics.evaluate, SynTumorLib.data.io, SynTumorLib.corruption
import SynTumorLib.data.phantom, SynTumorLib.segmentation.inference, SynTumorLib.cli.train_commands.segmenter
import json
files = sorted({m.__file__ for name, m in list(sys.modules.items()) if getattr(m, "__file__", None)
                and m.__file__.startswith(sys.argv[1])})
print(json.dumps(files))
"""


def loaded_files() -> list[Path]:
    r = subprocess.run([sys.executable, "-c", ENTRY_POINTS, str(REPO)], cwd=REPO, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    files = [Path(f) for f in json.loads(r.stdout.strip().splitlines()[-1])]
    return [f for f in files if f.suffix == ".py" and f.relative_to(REPO).parts[0] in ("SynTumor", "SynTumorLib")]


def guarded(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.If, ast.IfExp)):
            test = ast.unparse(node.test)
            if "os.name" in test or "hasattr(os" in test or "sys.platform" in test:
                return True
    return False


def test_no_posix_only_module_or_unguarded_call_in_what_slicer_loads():
    files = loaded_files()
    assert any(f.name == "worker_main.py" for f in files) and any(f.name == "SynTumorTrain.py" for f in files)
    problems = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module.split(".")[0]]
            for name in names:
                if name in POSIX_ONLY_MODULES:
                    problems.append(f"{path.relative_to(REPO)}:{node.lineno}: imports {name}")
            if (isinstance(node, ast.Attribute) and node.attr in POSIX_ONLY_CALLS
                    and isinstance(node.value, ast.Name) and node.value.id in ("os", "signal")
                    and not guarded(node, parents)):
                problems.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value.id}.{node.attr} without a platform check")
    assert not problems, "\n".join(problems)
