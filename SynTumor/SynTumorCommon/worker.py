"""Long work in a separate process, watched without blocking Slicer's GUI — and without a Python thread.

Insertion (any texture: statistical, a diffusion model folder, …), segmentation and evaluation of a
whole CT take seconds to minutes, so the panels never run them in Slicer's GUI thread. A
:class:`WorkerJob` runs ``worker_main.py TASK FOLDER`` with Slicer's Python (``PythonSlicer``): the
task reads ``FOLDER/args.json`` and its input files, writes its outputs into ``FOLDER`` and prints
Slicer Execution Model progress lines (``<filter-progress>``/``<filter-comment>``).

Two ways to run one:

* :meth:`WorkerJob.start` (the panels): a ``qt.QProcess``. Its ``readyReadStandardOutput`` signal
  hands over whatever the worker printed, in the GUI thread, when it arrives; nothing polls and no
  Python thread waits on the GIL (Slicer never releases it while idle). Output is decoded as UTF-8
  with replacement, so undecodable bytes cannot stop the reading. In a GUI application ``QProcess``
  starts console programs without a console window on Windows. :meth:`WorkerJob.cancel` returns at
  once: it asks the worker to stop and, if it is still running after ``KILL_AFTER_MS``, kills it from
  a timer — the GUI never waits for it.
* :meth:`WorkerJob.run` (batch scripts, tests): ``subprocess`` with blocking reads, in the caller's
  thread.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from SynTumorLib.utils.atomic import write_json_atomic
from SynTumorLib.utils.errors import CancelledError, SynTumorError

WORKER_MAIN = Path(__file__).resolve().parent / "worker_main.py"
KILL_AFTER_MS = 3000  # a worker that ignores the request to stop is killed this long after Cancel
LOG_LINES = 400  # the worker's last output lines kept for error messages

_PROGRESS = re.compile(r"<filter-progress>\s*([-+0-9.eE]+)\s*</filter-progress>")
_COMMENT = re.compile(r"<filter-comment>(.*)</filter-comment>")


def parse_progress_line(line: str) -> tuple[float | None, str | None]:
    """``(fraction, None)`` for a ``<filter-progress>`` line, ``(None, message)`` for a
    ``<filter-comment>`` line, ``(None, None)`` for anything else (ordinary log output).

    >>> parse_progress_line("<filter-progress>0.25</filter-progress>")
    (0.25, None)
    >>> parse_progress_line("<filter-comment>tumour 1/2</filter-comment>")
    (None, 'tumour 1/2')
    """
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


def worker_python() -> str:
    """The interpreter that runs workers: PythonSlicer inside Slicer, else this Python."""
    if "PythonSlicer" in os.path.basename(sys.executable):
        return sys.executable
    found = shutil.which("PythonSlicer")
    if found:
        return found
    try:
        import slicer

        app = getattr(slicer, "app", None)
        if app is not None:
            candidate = Path(app.applicationDirPath) / ("PythonSlicer.exe" if os.name == "nt" else "PythonSlicer")
            if candidate.exists():
                return str(candidate)
    except ImportError:
        pass
    return sys.executable


def worker_environment(base: dict | None = None) -> dict:
    """``base`` (default: this process's environment) with the folder holding this process's
    ``SynTumorLib`` first on ``PYTHONPATH``, so the worker imports the very same library."""
    import SynTumorLib

    env = dict(os.environ if base is None else base)
    lib_parent = str(Path(SynTumorLib.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([lib_parent, *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"  # progress lines arrive when printed
    env["PYTHONIOENCODING"] = "utf-8"
    return env


class WorkerJob:
    """One worker process: its progress, messages, log tail, outcome and (temporary) folder.

    ``command`` is the full argv. :meth:`forTask` builds the usual one (``worker_main.py``).
    ``folder`` is where the task's files live; it is deleted by :meth:`cleanup` when ``ownsFolder``.
    """

    def __init__(self, command: Sequence[str], env: dict | None = None, folder: str | os.PathLike | None = None,
                 ownsFolder: bool = False, task: str = "") -> None:
        self.command = [os.fspath(c) for c in command]
        self.env = env
        self.folder = Path(folder) if folder else None
        self.ownsFolder = ownsFolder
        self.task = task
        self.fraction = 0.0
        self.message = ""
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.cancelled = False
        self.returncode: int | None = None
        self.crashed = False
        self.startError: str | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._process = None  # qt.QProcess (start)
        self._popen: subprocess.Popen | None = None  # subprocess (run)
        self._onUpdate: Callable[[WorkerJob], None] | None = None
        self._onFinished: Callable[[WorkerJob], None] | None = None
        self._finished = False

    @classmethod
    def forTask(cls, task: str, folder: str | os.PathLike, args: dict, python: str | None = None,
                ownsFolder: bool = True, env: dict | None = None) -> WorkerJob:
        """A job running ``worker_main.py task folder`` with ``args`` written to ``folder/args.json``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / "args.json", args)
        return cls([python or worker_python(), str(WORKER_MAIN), task, str(folder)],
                   env=worker_environment() if env is None else env, folder=folder, ownsFolder=ownsFolder, task=task)

    # ------------------------------------------------------------------ output
    def feed(self, data: bytes) -> None:
        """Take in output bytes (any chunking; invalid UTF-8 becomes U+FFFD)."""
        text = self._partial + self._decoder.decode(data)
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._line(line.rstrip("\r"))

    def _flush(self) -> None:
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if rest:
            self._line(rest.rstrip("\r"))

    def _line(self, line: str) -> None:
        fraction, comment = parse_progress_line(line)
        if fraction is not None:
            self.fraction = max(self.fraction, fraction)  # never step backwards on screen
        elif comment is not None:
            self.message = comment
        elif line.strip():
            self.log.append(line)

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        if self._process is not None:
            return not self._finished
        return self._popen is not None and self._popen.poll() is None

    @property
    def finished(self) -> bool:
        return self._finished

    def outputPath(self, name: str) -> Path:
        if self.folder is None:
            raise SynTumorError("this worker job has no folder")
        return self.folder / name

    def errorMessage(self) -> str | None:
        """What went wrong, for the panel (None: it succeeded or is still running)."""
        if self.cancelled:
            return "cancelled"
        if self.startError:
            return f"the worker could not be started ({self.startError}): {' '.join(self.command[:2])}"
        if not self._finished or self.returncode == 0:
            return None
        tail = "\n".join(list(self.log)[-8:]) or "(no output)"
        how = "crashed" if self.crashed else f"failed (exit code {self.returncode})"
        return f"the {self.task or 'worker'} process {how}:\n{tail}"

    def check(self) -> None:
        """Raise ``CancelledError`` / ``SynTumorError`` (with the worker's last messages) unless it succeeded."""
        if self.cancelled:
            raise CancelledError(f"{self.task or 'worker'} cancelled")
        problem = self.errorMessage()
        if problem:
            raise SynTumorError(problem)
        if not self._finished:
            raise SynTumorError(f"the {self.task or 'worker'} process has not finished yet")

    def result(self, name: str = "result.json") -> dict:
        """The JSON a task wrote into its folder (after a successful run)."""
        self.check()
        return json.loads(self.outputPath(name).read_text(encoding="utf-8"))

    def cleanup(self) -> None:
        """Delete the job's folder once the worker has ended, if the job owns it."""
        if self.ownsFolder and self.folder is not None and not self.running:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.ownsFolder = False

    # ------------------------------------------------------------------ GUI: QProcess
    def start(self, onUpdate: Callable[[WorkerJob], None] | None = None,
              onFinished: Callable[[WorkerJob], None] | None = None) -> WorkerJob:
        """Start the worker as a ``qt.QProcess`` and return at once; ``onUpdate(job)`` runs when
        output arrives, ``onFinished(job)`` once when it has ended (also after a failed start)."""
        import qt

        self._onUpdate, self._onFinished = onUpdate, onFinished
        process = qt.QProcess()
        process.setProcessChannelMode(qt.QProcess.MergedChannels)
        if self.env is not None:
            environment = qt.QProcessEnvironment()
            for key, value in self.env.items():
                environment.insert(key, value)
            process.setProcessEnvironment(environment)
        process.readyReadStandardOutput.connect(self._onReadyRead)
        process.finished.connect(self._onProcessFinished)
        process.errorOccurred.connect(self._onProcessError)
        self._process = process
        process.start(self.command[0], self.command[1:])
        return self

    def _onReadyRead(self, *args) -> None:
        data = bytes(self._process.readAllStandardOutput().data())
        if data:
            self.feed(data)
            if self._onUpdate is not None:
                self._onUpdate(self)

    def _onProcessFinished(self, *args) -> None:
        import qt

        if self._finished:
            return
        self._onReadyRead()
        self._flush()
        self.crashed = self._process.exitStatus() == qt.QProcess.CrashExit
        self.returncode = int(self._process.exitCode())
        self._finish()

    def _onProcessError(self, error) -> None:
        import qt

        if error == qt.QProcess.FailedToStart and not self._finished:
            self.startError = str(self._process.errorString())
            self._finish()

    def _finish(self) -> None:
        self._finished = True
        if getattr(self, "_killTimer", None) is not None:
            self._killTimer.stop()
        if self._onFinished is not None:
            self._onFinished(self)

    def cancel(self) -> None:
        """Ask the worker to stop and return at once (a timer kills it if it has not stopped in time)."""
        self.cancelled = True
        if not self.running:
            return
        if self._process is not None:
            import qt

            self._terminate(int(self._process.processId()), self._process.terminate)
            timer = qt.QTimer()  # a timer object, not QTimer.singleShot(ms, callable): kept, and stopped on finish
            timer.setSingleShot(True)
            timer.timeout.connect(self._killIfRunning)
            timer.start(KILL_AFTER_MS)
            self._killTimer = timer
        elif self._popen is not None:
            self._terminate(self._popen.pid, self._popen.terminate)
            threading.Timer(KILL_AFTER_MS / 1000.0, self._killIfRunning).start()

    @staticmethod
    def _terminate(pid: int, terminate: Callable[[], None]) -> None:
        # POSIX: the worker leads its own process group (worker_main calls os.setsid), so SIGTERM
        # reaches anything it started too. Windows has no SIGTERM for console programs: kill.
        if os.name == "posix" and pid > 0:
            import signal

            try:
                os.killpg(pid, signal.SIGTERM)
                return
            except OSError:
                pass  # not a group leader (yet): fall through
        if os.name == "nt":
            WorkerJob._kill(pid, None)
        else:
            terminate()

    @staticmethod
    def _kill(pid: int, kill: Callable[[], None] | None) -> None:
        if os.name == "posix" and pid > 0:
            import signal

            try:
                os.killpg(pid, signal.SIGKILL)
                return
            except OSError:
                pass
        if kill is not None:
            kill()
        elif os.name == "nt" and pid > 0:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True,
                           creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))

    def _killIfRunning(self) -> None:
        if not self.running:
            return
        if self._process is not None:
            self._kill(int(self._process.processId()), self._process.kill)
        elif self._popen is not None:
            self._kill(self._popen.pid, self._popen.kill)

    # ------------------------------------------------------------------ batch: subprocess
    def run(self, progress: Callable[[float, str], None] | None = None, timeout_s: float | None = None) -> WorkerJob:
        """Run the worker to its end in this thread (batch use), forwarding progress; raise on failure."""
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if os.name == "nt" else 0
        self._popen = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=self.env, creationflags=flags)
        timer = None
        if timeout_s is not None:
            timer = threading.Timer(timeout_s, self._timedOut)
            timer.daemon = True
            timer.start()
        try:
            assert self._popen.stdout is not None
            while True:
                chunk = self._popen.stdout.read1(65536)
                if not chunk:
                    break
                self.feed(chunk)
                if progress is not None:
                    progress(self.fraction, self.message)
            self._flush()
            self.returncode = self._popen.wait()
        except BaseException:
            self.cancel()
            self._popen.wait()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._popen.stdout.close()
        self.crashed = self.returncode < 0  # killed by a signal (POSIX)
        self._finished = True
        if getattr(self, "_timeout", None):
            raise SynTumorError(f"the {self.task or 'worker'} process did not finish within {timeout_s:g} s")
        self.check()
        if progress is not None:
            progress(1.0, "done")
        return self

    def _timedOut(self) -> None:
        self._timeout = True
        self.cancel()
