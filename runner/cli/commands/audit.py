"""``playalter audit verify``: check the hash chain of the HTTP service's audit log against its checkpoint.

With a Postgres ``database.url`` (and no ``--db``) it checks the shared log in that database against its
checkpoint row, whose signature needs ``security.audit_checkpoint_secret``.
Exit codes: 0 intact; 1 verification failed (tampered, wiped, truncated or unreadable); 2 no such file.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("audit", help="inspect the HTTP service's audit log")
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check that no audit row was edited, deleted or reordered")
    verify.add_argument("--db", help="audit database (default: security.audit_db, else <data_dir>/audit.sqlite3)")
    verify.add_argument("--anchor", help="a head hash printed by an earlier verify; it must still be in the chain")
    verify.set_defaults(func=run_verify)


def run_verify(args) -> int:
    from pathlib import Path

    from ....pipelines.core.config import settings
    from ..extras import require

    require("server")
    from ...server.storage.audit_log import audit_db_path, verify_database

    current = settings()
    if current.database.url and not args.db:
        result = _verify_shared(current.database.url, current.security.audit_checkpoint_secret, args.anchor)
    else:
        path = Path(args.db) if args.db else audit_db_path(current)
        if not path.is_file():
            sys.stderr.write(f"error: no audit log at {path}\n")
            return 2
        result = verify_database(path, anchor=args.anchor)  # read-only: verifying never changes the log
    if result.ok:
        sys.stdout.write(f"audit log OK: {result.rows} rows, chain intact\nhead: {result.head_hash}\n")
        return 0
    sys.stdout.write(f"audit log FAILED verification: {result.reason}\n")
    if result.first_bad_id is not None:
        sys.stdout.write(f"first bad row: {result.first_bad_id}\n")
    return 1


def _verify_shared(url: str, secret: str, anchor: str | None):
    from ....pipelines.core.config import ConfigError
    from ..extras import require

    require("scale")
    from ...server.storage.audit_checkpoint import RowCheckpoint
    from ...server.storage.audit_log import VerifyResult, verify_log
    from ...server.storage.database import Database

    try:
        checkpoint = RowCheckpoint(secret)
    except ConfigError as error:
        return VerifyResult(False, 0, None, f"the checkpoint cannot be checked: {error}")
    try:
        database = Database(url)
    except Exception as error:
        return VerifyResult(False, 0, None, f"the database cannot be reached ({type(error).__name__})")
    try:
        return verify_log(database, checkpoint, anchor)
    finally:
        database.close()
