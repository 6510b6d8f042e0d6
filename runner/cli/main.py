"""The ``playalter`` command.

Each module in ``runner/cli/commands/`` adds one subcommand through
``register(subparsers)``, which sets ``func(args) -> int`` (the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sqlite3
import sys

from . import commands
from .extras import MissingExtra


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playalter",
        description="PLAYALTER face toolkit: detect, fit, measure, anonymise and swap faces; run saved workflows.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda item: item.name):
        module = importlib.import_module(f".{info.name}", commands.__name__)
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from ...pipelines.core.errors import PlayalterError
    from ...pipelines.core.log import setup_logging

    try:
        setup_logging()
        return int(args.func(args) or 0)
    except (PlayalterError, MissingExtra) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    except OSError as error:  # a file or folder named on the command line cannot be read or written
        where = f"{error.filename}: " if error.filename else ""
        sys.stderr.write(f"error: {where}{error.strerror or error}\n")
        return 1
    except sqlite3.DatabaseError as error:  # e.g. keys --db naming a file that is not a SQLite database
        sys.stderr.write(f"error: a database cannot be used ({error}): a damaged file, or not a SQLite database\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
