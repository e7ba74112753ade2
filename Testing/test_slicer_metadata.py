"""Extension metadata (AUDIT D12): one homepage everywhere, screenshot and icon URLs that point to
files in the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cmake_variable(name: str) -> str:
    text = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    m = re.search(rf'^set\({name} "([^"]*)"\)', text, re.M)
    assert m, f"{name} not set in CMakeLists.txt"
    return m.group(1).replace("${SYNTUMOR_REPOSITORY}", cmake_repository())


def cmake_repository() -> str:
    m = re.search(r'^set\(SYNTUMOR_REPOSITORY "([^"]*)"\)', (REPO / "CMakeLists.txt").read_text(encoding="utf-8"), re.M)
    return m.group(1)


def tracked_files() -> set[str]:
    r = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return set(r.stdout.split())


def test_screenshot_and_icon_urls_point_to_files_in_the_repository():
    raw = cmake_repository() + "/raw/main/"
    urls = cmake_variable("EXTENSION_SCREENSHOTURLS").split() + [cmake_variable("EXTENSION_ICONURL")]
    files = tracked_files()
    for url in urls:
        assert url.startswith(raw), url
        assert url[len(raw):] in files, f"{url}: {url[len(raw):]} is not in the repository"


def test_one_homepage_everywhere():
    repository = cmake_repository()
    assert cmake_variable("EXTENSION_HOMEPAGE") == repository + "#readme"
    xml = (REPO / "SynTumor" / "SynTumorTrain" / "SynTumorTrain.xml").read_text(encoding="utf-8")
    assert re.search(r"<documentation-url>(.*)</documentation-url>", xml).group(1) == repository + "#readme"
    places = [REPO / "CMakeLists.txt", REPO / "pyproject.toml", REPO / "docs" / "guide" / "slicer.md",
              *sorted((REPO / "SynTumor").rglob("*.py")), *sorted((REPO / "SynTumor").rglob("*.xml"))]
    for path in places:
        for url in re.findall(r"https?://github\.com/[\w.-]+/[\w.-]+", path.read_text(encoding="utf-8")):
            assert url == repository, f"{path.relative_to(REPO)}: {url} (the project is {repository})"
