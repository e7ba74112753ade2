"""Entry point of the ``syntumor`` command and ``python -m SynTumorLib``.

Sub-commands are discovered from ``SynTumorLib.cli.commands``: each module there has
``register(subparsers)`` which adds a parser whose ``func`` default is called with the parsed args.
Errors of type ``SynTumorError`` become a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from .. import __version__
from ..utils.errors import SynTumorError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syntumor",
        description="SynTumor: synthetic pancreatic tumours in CT — insert, corrupt, train, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"SynTumorLib {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        rc = args.func(args)
    except SynTumorError as e:
        print(f"syntumor {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
