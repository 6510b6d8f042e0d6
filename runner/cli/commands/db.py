"""``playalter db upgrade``: apply the schema migrations of the configured database (also done at start).

Exit codes: 0 up to date; 1 the database cannot be reached or a migration failed.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("db", help="manage the service's database schema")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    actions.add_parser("upgrade", help="apply pending migrations (jobs, audit, queue)").set_defaults(func=run_upgrade)


def run_upgrade(args) -> int:
    from pathlib import Path

    from ....pipelines.core.config import settings
    from ..extras import require

    require("server")
    current = settings()
    if current.database.url:
        require("scale")
    from ...server.database_schema import upgrade_all
    from ...server.storage import migrations

    try:
        applied = upgrade_all(current, Path(current.paths.data_dir).expanduser())
    except migrations.MigrationError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    for component, versions in applied.items():
        state = f"applied {', '.join(map(str, versions))}" if versions else "up to date"
        sys.stdout.write(f"{component}: {state}\n")
    return 0
