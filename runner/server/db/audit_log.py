"""The hash-chained audit log in the shared database (``database.url`` set): the same rows and chain as
``audit.AuditLog``, written by every API replica and worker.

Appends are serialised across processes by a transaction-scoped advisory lock
taken before the head record is read: each append reads the head, chains its
rows after it and moves the head in the same transaction, so concurrent writers
can neither fork the chain nor lose a row (a writer that dies mid-append rolls
back and releases the lock). ``verify`` walks the chain and compares it with the
head record and the checkpoint, as ``audit.verify_database`` does for SQLite.

The checkpoint (row count, last id, head hash, ``broken``) is the row of
``audit_checkpoint``, rewritten by every append in the same transaction, under
the same lock, and signed with HMAC-SHA256 under ``security.audit_checkpoint_secret``:
a key every replica and worker is given and the database never holds, so
someone who can only write to the database (TRUNCATE, DELETE of the last rows
and a matching head record, an edited checkpoint) cannot produce a checkpoint
that verifies. Before each append the writer compares the log with the
checkpoint; a difference is recorded in it as ``broken`` and stays there.

Migration 2 creates the row unsigned ("not started"); the first process to
open the log signs the log as it then is (an ``audit_checkpoint_started``
security event); an unsigned row found by an append is recorded as broken. A
process whose secret is not the one the checkpoint was signed with (its
``key_id`` differs) refuses to start instead of recording the log as broken.
Someone able to write the database who also knows this can put an unsigned row
back while no process runs and have the next one start the checkpoint over
(logged as above); against that, keep ``--anchor`` head hashes elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from ....pipelines.config import ConfigError
from ..audit import _SCHEMA, GENESIS_HASH, VerifyResult, _new_row, _walk_chain, row_hash
from ..audit_checkpoint import SNAPSHOT_FIELDS, CheckpointError, Signer, Snapshot, drift, fault, now_text
from ..logs import security_event
from . import migrations
from .database import Database

MIN_SECRET_LENGTH = 32
MIGRATIONS = [
    [statement.strip() for statement in _SCHEMA.split(";") if statement.strip()],
    ["CREATE TABLE IF NOT EXISTS audit_checkpoint (singleton INTEGER PRIMARY KEY CHECK (singleton = 1),"
     " row_count INTEGER NOT NULL, last_id INTEGER, head TEXT NOT NULL, broken TEXT NOT NULL,"
     " key_id TEXT NOT NULL, signature TEXT NOT NULL)",
     "INSERT INTO audit_checkpoint (singleton, row_count, last_id, head, broken, key_id, signature)"
     " VALUES (1, 0, NULL, '', '', '', '')"],
]
_INSERT = ("INSERT INTO audit_log (id, time, key_id, operation, inputs, parameters, outcome, status, duration_ms,"
           " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


class OtherSecretError(CheckpointError):
    """The checkpoint was signed under another secret than this process's (or its key id was edited)."""


def checkpoint_signer(secret: str) -> Signer:
    """The signer for ``security.audit_checkpoint_secret``; ConfigError when it is unset or short."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"security.audit_checkpoint_secret must be set (at least {MIN_SECRET_LENGTH} characters, the same on "
            "every API replica and worker) when database.url is a Postgres database: it signs the audit log's "
            "checkpoint outside the database. Generate one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
    return Signer(secret.encode("utf-8"), "row (audit_checkpoint)")


class SharedAuditLog:
    """``SharedAuditLog(database, secret)``: applies the audit migrations and starts (or checks) the checkpoint;
    ConfigError when ``secret`` is unusable or is not the one the checkpoint was signed with."""

    def __init__(self, database: Database, secret: str):
        self.db = database
        self.signer = checkpoint_signer(secret)
        migrations.upgrade(database, "audit", MIGRATIONS)
        self._start_checkpoint()

    def _start_checkpoint(self) -> None:
        with self.db.transaction() as tx:
            tx.lock("playalter-audit")
            try:
                saved = _saved(tx, self.signer)
            except OtherSecretError as error:
                raise ConfigError(f"{error}: give every replica and worker the same "
                                  "security.audit_checkpoint_secret") from None
            except CheckpointError:
                return  # recorded as broken by the next append
            if saved is None:
                current = _head(tx)
                self._write_checkpoint(tx, current, "")
                security_event("audit_checkpoint_started", rows=current.rows, last_id=current.last_id)

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
        current = _head(tx)
        broken = self._compare_checkpoint(tx, current)
        last_id, prev_hash, count = current.last_id or 0, current.head, current.rows
        row = {**row, "id": last_id + 1, "prev_hash": prev_hash}
        row["hash"] = row_hash(prev_hash, row)
        tx.execute(_INSERT, tuple(row[name] for name in ("id", "time", "key_id", "operation", "inputs",
                                                         "parameters", "outcome", "status", "duration_ms",
                                                         "prev_hash", "hash")))
        tx.execute("INSERT INTO audit_head (singleton, last_id, last_hash, row_count) VALUES (1, ?, ?, ?)"
                   " ON CONFLICT (singleton) DO UPDATE SET last_id = excluded.last_id,"
                   " last_hash = excluded.last_hash, row_count = excluded.row_count",
                   (row["id"], row["hash"], count + 1))
        self._write_checkpoint(tx, Snapshot(count + 1, row["id"], row["hash"]), broken)
        return row["id"]

    def _compare_checkpoint(self, tx, current: Snapshot) -> str:
        """What the checkpoint has on record as broken, else any difference between it and the log now."""
        try:
            saved = _saved(tx, self.signer)
        except CheckpointError as error:
            broken = f"{error} (noticed at {now_text()})"
        else:
            if saved is not None and saved.broken:
                return saved.broken
            if saved is None:  # this process found it signed, or signed it, when it opened the log
                broken = f"the checkpoint row (audit_checkpoint) was reset to unsigned (noticed at {now_text()})"
            else:
                broken = drift(saved, current)
        if broken:
            security_event("audit_log_tampered", level=logging.ERROR, reason=broken)
        return broken

    def _write_checkpoint(self, tx, current: Snapshot, broken: str) -> None:
        snapshot = Snapshot(current.rows, current.last_id, current.head, broken)
        tx.execute("INSERT INTO audit_checkpoint (singleton, row_count, last_id, head, broken, key_id, signature)"
                   " VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT (singleton) DO UPDATE SET"
                   " row_count = excluded.row_count, last_id = excluded.last_id, head = excluded.head,"
                   " broken = excluded.broken, key_id = excluded.key_id, signature = excluded.signature",
                   (snapshot.rows, snapshot.last_id, snapshot.head, snapshot.broken, self.signer.key_id,
                    self.signer.sign(snapshot)))

    def enqueue(self, **row) -> asyncio.Future:
        """``append`` on a thread of the running loop; the future gets the row's id."""
        return asyncio.get_running_loop().run_in_executor(None, partial(self.append, **row))

    async def record(self, **row) -> int:
        return await self.enqueue(**row)

    def verify(self, anchor: str | None = None) -> VerifyResult:
        return verify_shared(self.db, self.signer, anchor)


def _head(tx) -> Snapshot:
    head = tx.execute("SELECT last_id, last_hash, row_count FROM audit_head").fetchone()
    last_id, last_hash, count = tuple(head) if head else (None, GENESIS_HASH, 0)
    return Snapshot(count, last_id, last_hash)


def _saved(tx, signer: Signer) -> Snapshot | None:
    """The signed checkpoint; None while it is not started; CheckpointError when it is missing or forged."""
    row = tx.execute("SELECT row_count, last_id, head, broken, key_id, signature FROM audit_checkpoint").fetchone()
    if row is None:
        raise CheckpointError("the checkpoint row (audit_checkpoint) is missing: it was deleted")
    *values, key_id, signature = tuple(row)
    if signature == "":
        return None
    if key_id != signer.key_id:
        raise OtherSecretError(f"the checkpoint row (audit_checkpoint) was signed with another "
                               f"security.audit_checkpoint_secret (key id {key_id}, this process has "
                               f"{signer.key_id}), or its key id was edited")
    return signer.verified(dict(zip(SNAPSHOT_FIELDS, values)), signature)


def verify_shared(database: Database, signer: Signer, anchor: str | None = None) -> VerifyResult:
    """Walk the chain and compare it with the head record and the checkpoint (one repeatable-read snapshot;
    nothing is written)."""
    try:
        with database.transaction() as tx:
            if tx.postgres:
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            head = tx.execute("SELECT last_id, last_hash, row_count FROM audit_head").fetchone()
            walk = _walk_chain(_as_dicts(tx.execute("SELECT * FROM audit_log ORDER BY id").fetchall()), anchor)
            try:
                saved = _saved(tx, signer)
                checkpoint_fault = ""
            except CheckpointError as error:
                saved, checkpoint_fault = None, f"{error}; the log cannot be shown complete"
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
    if saved is None and not checkpoint_fault:
        checkpoint_fault = ("the checkpoint (audit_checkpoint) is not started: no API replica or worker has opened "
                            "the log since it was created, or its row was reset in the database")
    elif saved is not None:
        checkpoint_fault = fault(saved, Snapshot(walk.rows, walk.last_id, walk.last_hash))
    if checkpoint_fault:
        return VerifyResult(False, walk.rows, None, checkpoint_fault, walk.last_hash)
    if not walk.anchor_seen:
        return VerifyResult(False, walk.rows, None,
                            f"anchor {anchor} is not in the chain: the log was rewritten", walk.last_hash)
    return VerifyResult(True, walk.rows, None, "", walk.last_hash)


def _as_dicts(rows) -> list[dict[str, Any]]:
    return [dict(zip(row.keys(), row)) for row in rows]
