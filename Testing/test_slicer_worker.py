"""The background worker the panels share (SynTumorCommon.worker), with stand-in worker scripts.

The panel's way runs on real Qt (PySide6's QProcess and QTimer stand in for PythonQt's): output
arrives through ``readyReadStandardOutput`` in this (the GUI) thread — no Python reader thread —
undecodable bytes do not stop the reading, a worker that fills the pipe does not stall, Cancel
returns at once even when the worker ignores the request to stop (it is killed from a timer), and a
crash or a failed start ends with a clear message. The batch way (``run``) is checked too. (AUDIT B6)
"""

from __future__ import annotations

import io
import os
import sys
import textwrap
import threading
import time

import pytest
import slicer_harness  # noqa: F401  (SynTumorCommon on sys.path)
from SynTumorCommon.worker import WorkerJob, parse_progress_line

from SynTumorLib.utils.errors import CancelledError, SynTumorError


def script(tmp_path, body: str) -> list[str]:
    path = tmp_path / "worker.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def test_parse_progress_line():
    assert parse_progress_line("<filter-progress>0.2500</filter-progress>") == (0.25, None)
    assert parse_progress_line("<filter-progress>1.7</filter-progress>") == (1.0, None)
    assert parse_progress_line("<filter-comment>resampling</filter-comment>") == (None, "resampling")
    assert parse_progress_line("INFO something") == (None, None)


def test_feed_handles_any_chunking_and_bad_bytes():
    job = WorkerJob(["none"])
    data = "<filter-comment>é step</filter-comment>\r\n".encode() + b"\xff\xfe junk\n<filter-progress>0.5</fil"
    for i in range(0, len(data), 3):  # split inside lines and inside a UTF-8 character
        job.feed(data[i:i + 3])
    job.feed(b"ter-progress>\nlast line")
    job._flush()
    assert job.message == "é step" and job.fraction == 0.5
    assert list(job.log) == ["\ufffd\ufffd junk", "last line"]


# ------------------------------------------------------------------ batch: run()
def test_run_reports_increasing_progress_and_finishes(tmp_path):
    job = WorkerJob(script(tmp_path, """
        import time
        for f in (0.1, 0.4, 0.8):
            print(f"<filter-comment>step {f}</filter-comment>")
            print(f"<filter-progress>{f}</filter-progress>", flush=True)
            time.sleep(0.02)
        print("a log line")
    """))
    seen = []
    job.run(progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and job.fraction == pytest.approx(0.8)
    assert job.message == "step 0.8" and list(job.log) == ["a log line"] and job.returncode == 0


def test_run_reports_a_failure_with_the_workers_last_lines(tmp_path):
    job = WorkerJob(script(tmp_path, """
        import sys
        print("error: model folder is corrupt", file=sys.stderr)
        sys.exit(2)
    """), task="predict")
    with pytest.raises(SynTumorError, match="(?s)predict process failed \\(exit code 2\\).*model folder is corrupt"):
        job.run()


def test_run_can_be_cancelled_from_elsewhere_and_times_out(tmp_path):
    sleeper = script(tmp_path, """
        import time
        print("<filter-progress>0.1</filter-progress>", flush=True)
        time.sleep(60)
    """)
    job = WorkerJob(sleeper)
    threading.Timer(0.5, job.cancel).start()
    start = time.monotonic()
    with pytest.raises(CancelledError):
        job.run()
    assert time.monotonic() - start < 20
    with pytest.raises(SynTumorError, match="did not finish within 0.5 s"):
        WorkerJob(sleeper).run(timeout_s=0.5)


def test_cleanup_removes_only_a_folder_the_job_owns(tmp_path):
    owned, given = tmp_path / "owned", tmp_path / "given"
    for folder, owns in ((owned, True), (given, False)):
        folder.mkdir()
        WorkerJob([sys.executable, "-c", "pass"], folder=folder, ownsFolder=owns).run().cleanup()
    assert not owned.exists() and given.exists()


# ------------------------------------------------------------------ the panels: QProcess
@pytest.fixture
def qt(monkeypatch):
    """PySide6's QtCore as the ``qt`` module (only QProcess, QProcessEnvironment, QTimer are used)."""
    QtWidgets = pytest.importorskip("PySide6.QtWidgets", reason="PySide6 not installed (real Qt for QProcess)")
    from PySide6 import QtCore

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    monkeypatch.setitem(sys.modules, "qt", QtCore)
    return app


def spin(app, job, timeout_s: float = 60.0) -> None:
    """Run the event loop (what Slicer's GUI does) until the job has finished."""
    end = time.monotonic() + timeout_s
    while not job.finished and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)  # not a tight loop: PySide6 on Python 3.11 leaks a reference to None per call
    assert job.finished, "the worker did not finish"


def test_output_arrives_through_signals_in_the_gui_thread(qt, tmp_path):
    updates, finished, threads = [], [], set()
    job = WorkerJob(script(tmp_path, """
        import sys, time
        for f in (0.2, 0.6):
            print(f"<filter-progress>{f}</filter-progress>", flush=True)
            time.sleep(0.05)
        sys.stdout.buffer.write(b"\\xff\\xfe not UTF-8\\n")
        print("<filter-comment>still read</filter-comment>", flush=True)
    """), env=dict(os.environ))
    before = threading.active_count()
    job.start(onUpdate=lambda j: (updates.append(j.fraction), threads.add(threading.get_ident())),
              onFinished=finished.append)
    assert threading.active_count() == before  # no reader thread
    spin(qt, job)
    assert finished == [job] and job.returncode == 0 and job.errorMessage() is None
    assert updates == sorted(updates) and job.fraction == pytest.approx(0.6)
    assert job.message == "still read" and any("not UTF-8" in line for line in job.log)
    assert threads == {threading.get_ident()}


def test_a_chatty_worker_does_not_stall(qt, tmp_path):
    job = WorkerJob(script(tmp_path, """
        for i in range(200000):
            print("x" * 40, i)
        print("<filter-progress>1</filter-progress>")
    """))
    job.start()
    spin(qt, job, timeout_s=120)
    assert job.returncode == 0 and job.fraction == 1.0


def test_cancel_returns_at_once_and_a_stubborn_worker_is_killed(qt, tmp_path, monkeypatch):
    import SynTumorCommon.worker as worker

    monkeypatch.setattr(worker, "KILL_AFTER_MS", 300)
    job = WorkerJob(script(tmp_path, """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # ignores the polite request
        print("<filter-progress>0.1</filter-progress>", flush=True)
        time.sleep(60)
    """))
    job.start()
    end = time.monotonic() + 20
    while job.fraction < 0.1 and time.monotonic() < end:
        qt.processEvents()
        time.sleep(0.005)  # (PySide6 on Python 3.11 leaks a reference to None per processEvents call)
    # the GUI is not held up: cancel makes no blocking call (a wait for the process, a sleep, a
    # join) — seen by profiling the call itself, not by timing it — and returns before the kill timer
    calls = []
    sys.setprofile(lambda frame, event, arg: calls.append(getattr(arg, "__name__", "") if event == "c_call"
                                                         else frame.f_code.co_name if event == "call" else ""))
    try:
        job.cancel()
    finally:
        sys.setprofile(None)
    blocking = {"waitForFinished", "waitForReadyRead", "waitForBytesWritten", "wait", "communicate", "sleep", "waitpid"}
    assert not blocking & set(calls), f"cancel() blocks the GUI thread: {sorted(blocking & set(calls))}"
    assert "cancel" in calls  # the profiler saw the call
    assert job.running and not job.finished
    spin(qt, job, timeout_s=20)
    assert job.cancelled and job.errorMessage() == "cancelled"
    with pytest.raises(CancelledError):
        job.check()


class _Proxy:
    """A module seen through a proxy with some attributes replaced (os.name, subprocess.Popen …)."""

    def __init__(self, module, **replaced):
        self._module, self.__dict__["_replaced"] = module, replaced

    def __getattr__(self, name):
        return self._replaced[name] if name in self._replaced else getattr(self._module, name)


def test_on_windows_no_console_window_opens(monkeypatch):
    """Windows: the batch worker and the kill that ends it are started with CREATE_NO_WINDOW, so no
    console window flashes up over Slicer (QProcess adds the flag itself for a console-less GUI)."""
    import subprocess

    import SynTumorCommon.worker as worker

    started = []

    class FakePopen:
        def __init__(self, cmd, **kw):
            started.append(("Popen", kw.get("creationflags")))
            self.pid, self.returncode, self.stdout = 1234, 0, io.BytesIO(b"<filter-progress>1</filter-progress>\n")

        def poll(self):
            return 0

        def wait(self, timeout=None):
            return 0

    no_window = 0x08000000
    fake_sub = _Proxy(subprocess, Popen=FakePopen, CREATE_NO_WINDOW=no_window,
                      run=lambda cmd, **kw: started.append((cmd[0], kw.get("creationflags"))))
    monkeypatch.setattr(worker, "os", _Proxy(os, name="nt"))
    monkeypatch.setattr(worker, "subprocess", fake_sub)
    WorkerJob(["python", "worker.py"]).run()
    WorkerJob._kill(1234, None)
    assert started == [("Popen", no_window), ("taskkill", no_window)]


def test_a_crash_and_a_failed_start_end_with_a_message(qt, tmp_path):
    crash = WorkerJob(script(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), task="insert")
    crash.start()
    spin(qt, crash)
    assert "insert process crashed" in crash.errorMessage() or "exit code" in crash.errorMessage()
    missing = WorkerJob([str(tmp_path / "no-such-python"), "x"], task="insert")
    ended = []
    missing.start(onFinished=ended.append)
    spin(qt, missing)
    assert ended == [missing] and "could not be started" in missing.errorMessage()
