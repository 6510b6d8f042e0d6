"""The hash-chained audit log in the shared database (``database.url`` set): the same rows and chain as
``audit.AuditLog``, written by every API replica and worker.

Appends are serialised across processes by a transaction-scoped advisory lock
taken before the head record is read: each append reads the head, chains its
rows after it and moves the head in the same transaction, so concurrent writers
can neither fork the chain nor lose a row (a writer that dies mid-append rolls
back and releases the lock). ``verify`` walks the chain and compares it with the
head record, as ``audit.verify_database`` does for SQLite. The signed checkpoint
file of the SQLite log has no counterpart here (there is no file beside the
database that every replica could rewrite): the head record plus an
``--anchor`` kept elsewhere prove completeness.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from ..audit import _SCHEMA, GENESIS_HASH, VerifyResult, _new_row, _walk_chain, row_hash
from . import migrations
from .database import Database

MIGRATIONS = [[statement.strip() for statement in _SCHEMA.split(";") if statement.strip()]]
_INSERT = ("INSERT INTO audit_log (id, time, key_id, operation, inputs, parameters, outcome, status, duration_ms,"
           " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


class SharedAuditLog:
    def __init__(self, database: Database):
        self.db = database
        migrations.upgrade(database, "audit", MIGRATIONS)

    def close(self) -> None:
        """The database belongs to the caller."""

    def append(self, *, key_id: str | None, operation: str, inputs=(), parameters: dict | None = None,
               outcome: str, status: int | None = None, duration_ms: float = 0.0, at: float | None = None) -> int:
        """Append one row now (inputs are sha256 hex digests); returns its id."""
        with self.db.transaction() as tx:
            return self.append_in(tx, key_id=key_id, operation=operation, inputs=inputs, parameters=parameters,
                                  outcome=outcome, status=status, duration_ms=duration_ms, at=at)

    def append_in(self, tx, *, key_id: str | None, operation: str, inputs=(), parameters: dict | None = None,
                  outcome: str, status: int | None = None, duration_ms: float = 0.0, at: float | None = None) -> int:
        """``append`` inside the caller's transaction (the row commits, or not, with the caller's changes)."""
        row = _new_row(key_id, operation, inputs, parameters, outcome, status, duration_ms, at)
        tx.lock("playalter-audit")
        head = tx.execute("SELECT last_id, last_hash, row_count FROM audit_head").fetchone()
        last_id, prev_hash, count = tuple(head) if head else (0, GENESIS_HASH, 0)
        row = {**row, "id": last_id + 1, "prev_hash": prev_hash}
        row["hash"] = row_hash(prev_hash, row)
        tx.execute(_INSERT, tuple(row[name] for name in ("id", "time", "key_id", "operation", "inputs",
                                                         "parameters", "outcome", "status", "duration_ms",
                                                         "prev_hash", "hash")))
        tx.execute("INSERT INTO audit_head (singleton, last_id, last_hash, row_count) VALUES (1, ?, ?, ?)"
                   " ON CONFLICT (singleton) DO UPDATE SET last_id = excluded.last_id,"
                   " last_hash = excluded.last_hash, row_count = excluded.row_count",
                   (row["id"], row["hash"], count + 1))
        return row["id"]

    def enqueue(self, **row) -> asyncio.Future:
        """``append`` on a thread of the running loop; the future gets the row's id."""
        return asyncio.get_running_loop().run_in_executor(None, partial(self.append, **row))

    async def record(self, **row) -> int:
        return await self.enqueue(**row)

    def verify(self, anchor: str | None = None) -> VerifyResult:
        return verify_shared(self.db, anchor)


def verify_shared(database: Database, anchor: str | None = None) -> VerifyResult:
    """Walk the chain and compare it with the head record (one repeatable-read snapshot; nothing is written)."""
    try:
        with database.transaction() as tx:
            if tx.postgres:
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            head = tx.execute("SELECT last_id, last_hash, row_count FROM audit_head").fetchone()
            walk = _walk_chain(_as_dicts(tx.execute("SELECT * FROM audit_log ORDER BY id").fetchall()), anchor)
    except database.errors as error:
        return VerifyResult(False, 0, None, f"the audit tables cannot be read ({type(error).__name__})")
    if walk.failure is not None:
        return walk.failure
    head_id, head_hash, head_count = tuple(head) if head else (None, GENESIS_HASH, 0)
    if (head_id, head_hash, head_count) != (walk.last_id, walk.last_hash, walk.rows):
        return VerifyResult(False, walk.rows, walk.last_id,
                            f"the log ends at row {walk.last_id} ({walk.rows} rows) but its head record says "
                            f"row {head_id} ({head_count} rows): rows were removed or added outside the log",
                            walk.last_hash)
    if not walk.anchor_seen:
        return VerifyResult(False, walk.rows, None,
                            f"anchor {anchor} is not in the chain: the log was rewritten", walk.last_hash)
    return VerifyResult(True, walk.rows, None, "", walk.last_hash)


def _as_dicts(rows) -> list[dict[str, Any]]:
    return [dict(zip(row.keys(), row)) for row in rows]
