"""Entry point of the ``syntumor`` command and ``python -m SynTumorLib``.

Sub-commands are discovered from ``SynTumorLib.cli.commands``: each module there has
``register(subparsers)`` which adds a parser whose ``func`` default is called with the parsed args.
A command that reads or writes files also sets ``paths=PathRoles(...)`` (see :mod:`.common`): before
it runs, every output is checked to lie outside every input, to be of the right kind (file or
folder), and is locked against a second run into it.

Exit codes: 0 done; 1 done, but the command found problems (``dataset check``, failed cases);
2 bad input or a refused output — one line ``syntumor <cmd>: error: <message>`` on stderr, never a
traceback; 3 an internal error (a bug: one line too, ``-v`` prints the traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pkgutil
import re
import sys

from .. import __version__
from ..utils.errors import SynTumorError

# A value that starts with "-" but is a number or a list of numbers ("-20.5,12,95", "-5,5,5",
# "-1e3"): argparse would take it for an option ("expected one argument").
_NUMBER = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
NEGATIVE_NUMBERS = re.compile(rf"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(\s*,\s*{_NUMBER})*$")


class Parser(argparse.ArgumentParser):
    """argparse with negative numbers (and number lists) as values, and one-line errors."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBERS

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_global_options(parser: argparse.ArgumentParser) -> None:
    """Options every (sub-)command takes, also after the command name."""
    parser.add_argument("--allow-gaps", action="store_true", default=argparse.SUPPRESS,
                        help="read DICOM series with missing slices or uneven spacing, with a warning naming "
                             "the gap (default: refuse them)")


def _leaves(parser: argparse.ArgumentParser):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
    for a in subs:
        for p in dict.fromkeys(a.choices.values()):
            yield from _leaves(p)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="syntumor",
        description="SynTumor: synthetic pancreatic tumours in CT — insert, corrupt, train, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"SynTumorLib {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages (and tracebacks)")
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        mod.register(sub)
    for leaf in _leaves(parser):
        if leaf is not parser:
            _add_global_options(leaf)
    return parser


@contextlib.contextmanager
def _environment(args: argparse.Namespace):
    """Settings that must reach worker and child processes too travel as environment variables."""
    from ..data.integrity import ALLOW_GAPS_ENV

    saved = os.environ.get(ALLOW_GAPS_ENV)
    if getattr(args, "allow_gaps", False):
        os.environ[ALLOW_GAPS_ENV] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(ALLOW_GAPS_ENV, None)
        else:
            os.environ[ALLOW_GAPS_ENV] = saved


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from .common import guarded_paths

    name = args.command
    try:
        with _environment(args), guarded_paths(args):
            rc = args.func(args)
    except SynTumorError as e:
        print(f"syntumor {name}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the file system refused: a full disk, no permission, a path that is a folder
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"syntumor {name}: error: {where}{e.strerror or _one_line(e)}", file=sys.stderr)
        if args.verbose:
            raise
        return 2
    except Exception as e:  # a bug: one line for the user, the traceback with -v
        if args.verbose:
            raise
        print(f"syntumor {name}: internal error ({type(e).__name__}: {_one_line(e)[:300]}); please report it "
              "— run with -v for the traceback", file=sys.stderr)
        return 3
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
