"""A worker process with progress and cancel, watched without blocking the caller.

Inference on a whole CT takes minutes, so it never runs in Slicer's GUI thread: the logic starts
``predict_worker.py`` with PythonSlicer (or any Python that has SynTumorLib and torch) and the widget
polls :meth:`PredictionJob.poll` from a ``qt.QTimer``. A reader thread drains the worker's output
into a queue, so a chatty worker never blocks on a full pipe and polling never blocks the GUI.
Batch scripts call :meth:`PredictionJob.wait` instead.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from SynTumorLib.utils.errors import CancelledError, SynTumorError

_PROGRESS = re.compile(r"<filter-progress>\s*([-+0-9.eE]+)\s*</filter-progress>")
_COMMENT = re.compile(r"<filter-comment>(.*)</filter-comment>")


def parse_progress_line(line: str) -> tuple[float | None, str | None]:
    """``(fraction, None)`` for a ``<filter-progress>`` line, ``(None, message)`` for a
    ``<filter-comment>`` line, ``(None, None)`` for anything else (ordinary log output)."""
    m = _PROGRESS.search(line)
    if m:
        try:
            return min(1.0, max(0.0, float(m.group(1)))), None
        except ValueError:
            return None, None
    m = _COMMENT.search(line)
    if m:
        return None, m.group(1).strip()
    return None, None


@dataclass
class PredictionJob:
    """One running worker. ``command`` is the full argv; ``outputPath`` the label file it writes."""

    command: Sequence[str]
    outputPath: str
    env: dict | None = None
    workDir: str | None = None  # removed by cleanup() when ownsWorkDir (a temporary folder)
    ownsWorkDir: bool = False
    fraction: float = 0.0
    message: str = ""
    log: list[str] = field(default_factory=list)
    cancelled: bool = False
    _proc: subprocess.Popen | None = None
    _lines: queue.Queue = field(default_factory=queue.Queue)
    _reader: threading.Thread | None = None

    def start(self) -> PredictionJob:
        self._proc = subprocess.Popen(
            list(self.command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, bufsize=1, env=self.env,
            # a process group of its own, so Cancel also stops anything the worker spawned
            start_new_session=(os.name == "posix"),
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        return self

    def _drain(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._proc.stdout.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def poll(self) -> bool:
        """Take in the output produced so far; True while the worker is still running."""
        alive = self.running
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            fraction, comment = parse_progress_line(line)
            if fraction is not None:
                self.fraction = max(self.fraction, fraction)  # never step backwards on screen
            elif comment is not None:
                self.message = comment
            elif line.strip():
                self.log.append(line)
        if not alive and self._reader is not None:
            self._reader.join(timeout=5)
            if self._lines.qsize():
                return self.poll()
        return alive

    def cancel(self, grace_s: float = 5.0) -> None:
        """Stop the worker: SIGTERM (the whole process group), then SIGKILL after ``grace_s``."""
        self.cancelled = True
        if not self.running:
            return
        assert self._proc is not None
        if os.name == "posix":
            import signal

            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
        else:
            self._proc.terminate()
        try:
            self._proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def wait(self, progress: Callable[[float, str], None] | None = None, interval_s: float = 0.2,
             timeout_s: float | None = None) -> None:
        """Block until the worker ends (batch use), forwarding progress; raise on failure."""
        start = time.monotonic()
        while self.poll():
            if progress is not None:
                progress(self.fraction, self.message)
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                self.cancel()
                raise SynTumorError(f"prediction did not finish within {timeout_s:g} s")
            time.sleep(interval_s)
        self.check()
        if progress is not None:
            progress(1.0, "done")

    def cleanup(self) -> None:
        """Delete the temporary input/output folder (only one this job owns), once it has ended."""
        if self.ownsWorkDir and self.workDir and not self.running:
            import shutil

            shutil.rmtree(self.workDir, ignore_errors=True)
            self.ownsWorkDir = False

    def check(self) -> None:
        """Raise ``CancelledError`` / ``SynTumorError`` (with the worker's last messages) unless it succeeded."""
        if self.cancelled:
            raise CancelledError("prediction cancelled")
        if self.returncode != 0:
            tail = "\n".join(self.log[-8:]) or "(no output)"
            raise SynTumorError(f"prediction failed (exit code {self.returncode}):\n{tail}")
