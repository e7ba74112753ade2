"""utils.atomic on Windows: a rename onto a file another process holds open fails for a moment there
(PermissionError); replace() retries briefly instead of failing the write, and the temporary file
never stays behind. Windows is simulated (the retry is the Windows-only branch)."""

from __future__ import annotations

import os

import pytest

from SynTumorLib.utils import atomic


def test_replace_retries_a_briefly_held_target_on_windows(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_WINDOWS", True)
    monkeypatch.setattr(atomic, "REPLACE_RETRY_S", (0.0, 0.0, 0.0))
    real, failures = os.replace, []

    def held_twice(src, dst):
        if len(failures) < 2:
            failures.append(dst)
            raise PermissionError(13, "The process cannot access the file because it is being used")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", held_twice)
    atomic.write_text_atomic(tmp_path / "report.txt", "new")
    assert (tmp_path / "report.txt").read_text() == "new" and len(failures) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]  # no temporary file left


def test_a_target_held_for_good_fails_clearly_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_WINDOWS", True)
    monkeypatch.setattr(atomic, "REPLACE_RETRY_S", (0.0,))

    def always(src, dst):
        raise PermissionError(13, "being used by another process")

    monkeypatch.setattr(atomic.os, "replace", always)
    with pytest.raises(PermissionError):
        atomic.write_text_atomic(tmp_path / "report.txt", "new")
    assert list(tmp_path.iterdir()) == []


def test_elsewhere_a_permission_error_is_not_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_WINDOWS", False)
    calls = []

    def denied(src, dst):
        calls.append(dst)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", denied)
    with pytest.raises(PermissionError):
        atomic.write_text_atomic(tmp_path / "report.txt", "new")
    assert len(calls) == 1
