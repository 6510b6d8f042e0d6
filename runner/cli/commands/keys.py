"""``playalter keys``: create, list and revoke API keys for the HTTP service."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from datetime import datetime, timezone


def register(subparsers) -> None:
    parser = subparsers.add_parser("keys", help="manage API keys of the HTTP service")
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--db", help="key database (default: the postgresql database.url, else security.keys_db, "
                                               "else <data_dir>/keys.sqlite3)")

    create = actions.add_parser("create", parents=[database], help="create a key; its secret is printed once")
    create.add_argument("--tier", required=True, choices=("basic", "premium", "enterprise"),
                        help="rate-limit tier (requests per hour from rate_limit.<tier>_per_hour)")
    create.add_argument("--name", default="", help="who or what the key is for")
    create.add_argument("--expires", help="lifetime like 30d, 12h, 2w, or an ISO date/datetime (UTC)")
    create.add_argument("--scopes", help="comma-separated scopes (default: every scope except admin)")
    create.add_argument("--json", action="store_true", help="print the result as JSON")
    create.set_defaults(func=run_create)

    listing = actions.add_parser("list", parents=[database], help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print the keys as JSON")
    listing.set_defaults(func=run_list)

    revoke = actions.add_parser("revoke", parents=[database], help="revoke a key and every session token issued for it")
    revoke.add_argument("key_id", help="the key id shown by 'keys list'")
    revoke.set_defaults(func=run_revoke)


@contextmanager
def _open_store(args, *, create: bool = False):
    """The key store, with anything it creates (folder, database) readable by this user only. Only ``create``
    makes a database named by ``--db`` that does not exist: listing or revoking in a mistyped path creates
    nothing."""
    from ....pipelines.core.config import settings
    from ....pipelines.core.errors import InvalidParameterError
    from ..extras import require

    if args.db and not create and not os.path.isfile(args.db):
        raise InvalidParameterError(f"no key database at {args.db} (--db names the file 'keys create' wrote)")

    require("server")
    current = settings()
    if current.database.url and not args.db:
        require("scale")
    from ...server.storage.database import Database
    from ...server.security.keys import KeyStore, keys_db_path

    previous_umask = os.umask(0o077)
    try:
        database = Database(current.database.url) if current.database.url and not args.db else None
        store = KeyStore(args.db or database or keys_db_path(current))
        try:
            yield store
        finally:
            store.close()
            if database is not None:
                database.close()
    finally:
        os.umask(previous_umask)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def run_create(args) -> int:
    from ..extras import require

    require("server")
    from ...server.security.keys import DEFAULT_SCOPES, parse_expiry

    expires_at = parse_expiry(args.expires) if args.expires else None
    with _open_store(args, create=True) as store:
        key_id, plaintext = store.create(args.tier, args.name, args.scopes or DEFAULT_SCOPES, expires_at)
        record = store.get(key_id)
    if args.json:
        sys.stdout.write(json.dumps({"key_id": key_id, "api_key": plaintext, "tier": record.tier,
                                     "scopes": list(record.scopes), "expires_at": record.expires_at}) + "\n")
        return 0
    sys.stdout.write(
        f"Created {record.tier} key {key_id}"
        f"{f' ({record.name})' if record.name else ''}, expires {_when(record.expires_at)}\n"
        f"scopes: {', '.join(record.scopes)}\n\n"
        f"    {plaintext}\n\n"
        "Store this key now: it is shown only once.\n"
    )
    return 0


def run_list(args) -> int:
    with _open_store(args) as store:
        records = store.list()
    if args.json:
        rows = [{"key_id": r.key_id, "name": r.name, "tier": r.tier, "scopes": list(r.scopes), "status": r.status(),
                 "created_at": r.created_at, "expires_at": r.expires_at, "revoked_at": r.revoked_at} for r in records]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not records:
        sys.stdout.write("no keys yet: create one with 'playalter keys create --tier basic'\n")
        return 0
    table = [("KEY ID", "NAME", "TIER", "STATUS", "CREATED", "EXPIRES", "SCOPES")]
    table += [(r.key_id, r.name or "-", r.tier, r.status(), _when(r.created_at), _when(r.expires_at),
               ",".join(r.scopes)) for r in records]
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        sys.stdout.write("  ".join(cells) + "\n")
    return 0


def run_revoke(args) -> int:
    with _open_store(args) as store:
        revoked = store.revoke(args.key_id)
        record = store.get(args.key_id)
    if revoked:
        sys.stdout.write(f"revoked key {args.key_id}; its session tokens stop working now\n")
        return 0
    state = "was already revoked" if record is not None else "does not exist"
    sys.stderr.write(f"error: key {args.key_id} {state} (see 'playalter keys list')\n")
    return 1
