"""The ``hetq`` command: a thin layer over the library (argument parsing, progress, printing).

Each command group is one module with an ``add_commands(subparsers)``; the groups share only
:mod:`.common`. Subcommands and their options are a contract other tools rely on; see
README.md.
"""

import argparse
import sys

from .. import __version__
from ..io import InputError
from . import board, boards, experiment, hardware, model
from .common import CommandError

__all__ = ["main", "build_parser", "GROUPS"]

#: The command groups, in the order of ``hetq --help``.
GROUPS = (model, experiment, hardware, boards, board)


def build_parser():
    p = argparse.ArgumentParser(prog="hetq", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"hetq {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(sub)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (InputError, ValueError, OSError, CommandError) as e:
        print(f"hetq {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0
