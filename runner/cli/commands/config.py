"""``playalter config``: print the effective settings (defaults < config.json < environment) as JSON, secrets masked."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "config", help="print the effective settings as JSON (secrets masked)",
        description=("Settings come from the defaults, then config.json ($PLAYALTER_CONFIG, else ./config.json), "
                     "then environment variables PLAYALTER__SECTION__KEY."),
    )
    parser.add_argument("--file", type=Path, default=None, help="read this config.json instead")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ....pipelines.core.config import load_settings, masked, settings

    effective = load_settings(args.file) if args.file else settings()
    sys.stdout.write(json.dumps(masked(effective.as_dict()), indent=2) + "\n")
    return 0
