"""``playalter version``: print the package version."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("version", help="print the PLAYALTER version")
    parser.set_defaults(func=run)


def run(args) -> int:
    from .... import __version__

    sys.stdout.write(f"playalter {__version__}\n")
    return 0
