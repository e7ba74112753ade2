"""Run the bad-input rows in this one process with the real stderr/stdout captured per row (file
descriptors 1 and 2, so C libraries and the interpreter are seen too).

    python Testing/_bad_input_driver.py PLAN.json RESULT.json

PLAN is ``[{"id", "argv"}, ...]``; RESULT gets ``[{"id", "rc", "out", "err", "seconds", "timed_out"}]``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROW_TIMEOUT_S = 60


class _Hang(BaseException):
    pass


def _alarm(signum, frame):
    raise _Hang()


def run_row(argv: list[str]) -> dict:
    from SynTumorLib.cli.main import main

    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(fo.fileno(), 1)
        os.dup2(fe.fileno(), 2)
        t0, timed_out = time.perf_counter(), False
        if hasattr(signal, "setitimer"):
            signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, ROW_TIMEOUT_S)
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = int(e.code or 0)
        except _Hang:
            rc, timed_out = -1, True
        except BaseException as e:  # noqa: BLE001 - an escaped exception is a finding, printed as Python would
            import traceback

            traceback.print_exc()
            rc = -2 if not isinstance(e, KeyboardInterrupt) else 130
        finally:
            if hasattr(signal, "setitimer"):
                signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        seconds = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        return {"rc": rc, "out": fo.read().decode("utf-8", "replace"), "err": fe.read().decode("utf-8", "replace"),
                "seconds": seconds, "timed_out": timed_out}


def main() -> int:
    plan = json.loads(Path(sys.argv[1]).read_text())
    results = [{"id": row["id"], **run_row(row["argv"])} for row in plan]
    Path(sys.argv[2]).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
