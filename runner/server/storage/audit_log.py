"""The append-only, hash-chained audit log of every authenticated operation, on ``database.Database``: in a SQLite
file of its own (default) or in the shared Postgres database (``database.url``), with the same rows and chain.

Each row records who (key id), what (operation, sha256 of each input, the
parameters with secrets and payloads stripped), when, the outcome and the
duration, and stores ``hash = sha256(prev_hash + canonical JSON of the row,
id included)``. ``verify`` walks the chain from the genesis hash:

- an edited row no longer matches its own hash;
- a deleted, inserted or reordered row breaks the next row's ``prev_hash`` link;
- rows cut off at the tail are caught by the head record (last id, last hash,
  row count), which every append moves in the same transaction;
- emptied or dropped tables, or a database replaced by an older copy, are
  caught by the signed checkpoint (``audit_checkpoint``), which every append
  rewrites after comparing it with the log.

Where the log lives:

- ``AuditLog(path)``: a SQLite file of its own (``audit_db_path``), checkpoint
  in a file beside it. The file holds the log's two tables and nothing else
  (no ``schema_migrations``): ``verify_database`` reads a file without them as
  a wiped log, and never creates or changes anything (a damaged file is a
  failed verification with a message, not an exception).
- ``AuditLog(database, secret)``: the shared database, written by every API
  replica and worker; tables from ``MIGRATIONS``, checkpoint in a row signed
  under ``secret`` (``security.audit_checkpoint_secret``). Appends are
  serialised across processes by a transaction-scoped advisory lock taken
  before the head record is read, so concurrent writers can neither fork the
  chain nor lose a row (a writer that dies mid-append rolls back and releases
  the lock). ``append_in`` writes a row inside the caller's transaction (an
  item's outcome and its audit row commit together).

Rows from the event loop (``enqueue``, ``record``): with SQLite they are
group-committed on the loop thread, every row queued during one loop iteration
in one transaction; WAL mode with ``synchronous=NORMAL`` makes a commit a plain
write (no fsync), cheaper than handing the rows to a writer thread and back.
With Postgres a commit is a round trip to the server, so each row is appended
on an executor thread instead. ``append`` writes at once, from any thread.

Someone able to rewrite the log, its checkpoint and the checkpoint's key could
forge a consistent history. Against that, record the head hash that
``playalter audit verify`` prints somewhere else (a ticket, another host) and
pass it back as ``--anchor``: verification then also proves that this row is
still in the chain, unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterable

from ..logs import security_event
from . import migrations
from .audit_checkpoint import CheckpointError, FileCheckpoint, RowCheckpoint, Snapshot, drift, fault, now_text
from .database import Database

GENESIS_HASH = "0" * 64
MAX_PARAMETER_TEXT = 256
_OMITTED_NAME_MARKERS = ("base64", "image", "password", "secret", "token", "api_key", "authorization", "cookie")
_LOCK = "playalter-audit"

LOG_TABLES = [
    "CREATE TABLE IF NOT EXISTS audit_log (id INTEGER PRIMARY KEY, time REAL NOT NULL, key_id TEXT,"
    " operation TEXT NOT NULL, inputs TEXT NOT NULL, parameters TEXT NOT NULL, outcome TEXT NOT NULL,"
    " status INTEGER, duration_ms REAL NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_head (singleton INTEGER PRIMARY KEY CHECK (singleton = 1),"
    " last_id INTEGER NOT NULL, last_hash TEXT NOT NULL, row_count INTEGER NOT NULL)",
]
MIGRATIONS = [  # the shared database's; a SQLite audit file gets LOG_TABLES only (its checkpoint is a file)
    LOG_TABLES,
    ["CREATE TABLE IF NOT EXISTS audit_checkpoint (singleton INTEGER PRIMARY KEY CHECK (singleton = 1),"
     " row_count INTEGER NOT NULL, last_id INTEGER, head TEXT NOT NULL, broken TEXT NOT NULL,"
     " key_id TEXT NOT NULL, signature TEXT NOT NULL)",
     "INSERT INTO audit_checkpoint (singleton, row_count, last_id, head, broken, key_id, signature)"
     " VALUES (1, 0, NULL, '', '', '', '')"],
]
_COLUMNS = ("id", "time", "key_id", "operation", "inputs", "parameters", "outcome", "status", "duration_ms",
            "prev_hash", "hash")
_HASHED_COLUMNS = _COLUMNS[:-2]
_INSERT = f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
_MOVE_HEAD = ("INSERT INTO audit_head (singleton, last_id, last_hash, row_count) VALUES (1, ?, ?, ?)"
              " ON CONFLICT (singleton) DO UPDATE SET last_id = excluded.last_id,"
              " last_hash = excluded.last_hash, row_count = excluded.row_count")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    reason: str = ""
    head_hash: str = GENESIS_HASH


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    content = canonical_json({name: row[name] for name in _HASHED_COLUMNS})
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def sanitize_parameters(value: Any, name: str = "") -> Any:
    """A JSON-safe copy without secrets or payloads: such fields become ``[omitted]``, long text is cut."""
    if any(marker in name.lower() for marker in _OMITTED_NAME_MARKERS):
        return "[omitted]"
    if isinstance(value, dict):
        return {str(key): sanitize_parameters(item, str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize_parameters(item) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"[{len(value)} bytes omitted]"
    if isinstance(value, str) and len(value) > MAX_PARAMETER_TEXT:
        return f"[{len(value)} characters omitted]"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)[:MAX_PARAMETER_TEXT]


def audit_db_path(settings, data_dir: str | Path | None = None) -> Path:
    """``security.audit_db``, else ``audit.sqlite3`` in ``data_dir`` (default ``paths.data_dir``)."""
    return Path(settings.security.audit_db or Path(data_dir or settings.paths.data_dir) / "audit.sqlite3")


class AuditLog:
    """``AuditLog(path)``: the log in a SQLite file of its own, its checkpoint in a file beside it.
    ``AuditLog(database, secret)``: the log in the shared database (owned by the caller), its checkpoint a row
    signed under ``secret``; ConfigError when ``secret`` is unusable or is not the one the checkpoint was signed
    with.

    The row fields of ``append``, ``append_in``, ``enqueue`` and ``record``: ``key_id``, ``operation`` and
    ``outcome``; optional ``inputs`` (sha256 hex digests), ``parameters`` (sanitized before storing),
    ``status``, ``duration_ms`` and ``at`` (epoch seconds, default now).
    """

    def __init__(self, target: str | Path | Database, secret: str = ""):
        self._owns_db = not isinstance(target, Database)
        if self._owns_db:
            self.db_path: Path | None = Path(target)
            self.db = Database(self.db_path)
            self.checkpoint: FileCheckpoint | RowCheckpoint = FileCheckpoint(self.db_path)
            with self.db.transaction() as tx:
                for statement in LOG_TABLES:
                    tx.ddl(statement)
        else:
            self.db_path, self.db = None, target
            self.checkpoint = RowCheckpoint(secret)
            migrations.upgrade(self.db, "audit", MIGRATIONS)
        self._pending: list[tuple[dict[str, Any], asyncio.Future]] = []
        with self.db.transaction() as tx:
            tx.lock(_LOCK)
            self.checkpoint.start(tx, _head(tx))

    def close(self) -> None:
        """Commit the rows still queued; close the SQLite file of its own (a shared database is the caller's)."""
        self._flush()
        if self._owns_db:
            self.db.close()

    def append(self, **fields) -> int:
        """Append one row now; returns its id."""
        with self.db.transaction() as tx:
            return self.append_in(tx, **fields)

    def append_in(self, tx, **fields) -> int:
        """``append`` inside the caller's transaction (the row commits, or not, with the caller's changes)."""
        return self._chain(tx, [_new_row(**fields)])[0]

    def enqueue(self, **fields) -> asyncio.Future:
        """Have one row appended from the running loop; the future gets its id (SQLite: with the next group
        commit on the loop; Postgres: on an executor thread)."""
        loop = asyncio.get_running_loop()
        if self.db.postgres:
            return loop.run_in_executor(None, partial(self.append, **fields))
        done = loop.create_future()
        self._pending.append((_new_row(**fields), done))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return done

    async def record(self, **fields) -> int:
        """``enqueue`` and wait until the row is committed."""
        return await self.enqueue(**fields)

    def verify(self, anchor: str | None = None) -> VerifyResult:
        """``verify_log`` on this log."""
        return verify_log(self.db, self.checkpoint, anchor)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            with self.db.transaction() as tx:
                ids = self._chain(tx, [row for row, _ in batch])
        except Exception as error:  # the requests waiting on these rows see the failure
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
            return
        for row_id, (_, done) in zip(ids, batch):
            if not done.done():
                done.set_result(row_id)

    def _chain(self, tx, rows: list[dict[str, Any]]) -> list[int]:
        """Chain ``rows`` after the head record, move it and rewrite the checkpoint, all in ``tx``; their ids."""
        tx.lock(_LOCK)
        with self.checkpoint.kept_if_rolled_back():
            current = _head(tx)
            broken = self._compare_checkpoint(tx, current)
            last_id, prev_hash, count = current.last_id or 0, current.head, current.rows
            ids = []
            for row in rows:
                row = {**row, "id": last_id + 1, "prev_hash": prev_hash}
                row["hash"] = row_hash(prev_hash, row)
                tx.execute(_INSERT, tuple(row[name] for name in _COLUMNS))
                last_id, prev_hash, count = row["id"], row["hash"], count + 1
                ids.append(last_id)
            tx.execute(_MOVE_HEAD, (last_id, prev_hash, count))
            self.checkpoint.write(tx, Snapshot(count, last_id, prev_hash, broken))
        return ids

    def _compare_checkpoint(self, tx, current: Snapshot) -> str:
        """What the checkpoint has on record as broken, else any difference between it and the log now (logged
        as a security event when first noticed)."""
        try:
            saved = self.checkpoint.read(tx)
        except CheckpointError as error:
            broken = f"{error} (noticed at {now_text()})"
        else:
            if saved is not None and saved.broken:
                return saved.broken
            broken = self.checkpoint.missing_at_append(current) if saved is None else drift(saved, current)
        if broken:
            security_event("audit_log_tampered", level=logging.ERROR, reason=broken)
        return broken


def verify_database(db_path: str | Path, anchor: str | None = None) -> VerifyResult:
    """``verify_log`` on a SQLite audit file and its checkpoint file, opened read-only: nothing is created or
    changed."""
    try:
        database = Database(db_path, read_only=True)
    except sqlite3.Error as error:
        return VerifyResult(False, 0, None, f"the database cannot be read ({error})")
    try:
        return verify_log(database, FileCheckpoint(db_path), anchor)
    finally:
        database.close()


def verify_log(database: Database, checkpoint: FileCheckpoint | RowCheckpoint,
               anchor: str | None = None) -> VerifyResult:
    """Walk the chain and compare it with the head record and the checkpoint, in one read-only snapshot of the
    database; the first fault is named. ``anchor``: a head hash seen earlier, which must still be in the chain."""
    try:
        with database.snapshot() as tx:
            head = _head(tx)
            walk = _walk_chain(tx.execute("SELECT * FROM audit_log ORDER BY id"), anchor)
            try:
                saved, checkpoint_fault = checkpoint.read(tx), ""
            except CheckpointError as error:
                saved, checkpoint_fault = None, f"{error}; the log cannot be shown complete"
    except database.errors as error:
        return VerifyResult(False, 0, None, _unreadable(database, error))
    if walk.failure is not None:
        return walk.failure
    walked = Snapshot(walk.rows, walk.last_id, walk.last_hash)
    if not head.same_log(walked):
        if head.rows > walk.rows:
            what = "rows at the end were removed"
        else:
            what = "rows were added or changed at the end without going through the log"
        return VerifyResult(False, walk.rows, walk.last_id,
                            f"the log ends at row {walk.last_id} ({walk.rows} rows) but its head record says "
                            f"row {head.last_id} ({head.rows} rows): {what}", walk.last_hash)
    if saved is not None:
        checkpoint_fault = fault(saved, walked)
    elif not checkpoint_fault:
        checkpoint_fault = checkpoint.missing_at_verify
    if checkpoint_fault:
        return VerifyResult(False, walk.rows, None, checkpoint_fault, walk.last_hash)
    if not walk.anchor_seen:
        return VerifyResult(False, walk.rows, None,
                            f"anchor {anchor} is not in the chain: the log was rewritten", walk.last_hash)
    return VerifyResult(True, walk.rows, None, "", walk.last_hash)


def _unreadable(database: Database, error: Exception) -> str:
    if database.postgres:  # the type only: the server's message can name the host or the user
        return f"the audit tables cannot be read ({type(error).__name__})"
    if "no such table" in str(error):
        return "the audit tables are missing: the log was wiped or replaced"
    if isinstance(error, sqlite3.OperationalError):
        return f"the database cannot be read ({error})"
    return f"the file is damaged, truncated or not an audit log ({error})"


def _head(tx) -> Snapshot:
    head = tx.execute("SELECT last_id, last_hash, row_count FROM audit_head").fetchone()
    last_id, last_hash, count = tuple(head) if head else (None, GENESIS_HASH, 0)
    return Snapshot(count, last_id, last_hash)


def _new_row(*, key_id: str | None, operation: str, outcome: str, inputs=(), parameters: dict | None = None,
             status: int | None = None, duration_ms: float = 0.0, at: float | None = None) -> dict[str, Any]:
    return {
        "time": round(time.time() if at is None else at, 6),
        "key_id": key_id,
        "operation": operation,
        "inputs": canonical_json(list(inputs)),
        "parameters": canonical_json(sanitize_parameters(parameters or {})),
        "outcome": outcome,
        "status": status,
        "duration_ms": round(float(duration_ms), 3),
    }


@dataclass
class _Walk:
    rows: int = 0
    last_id: int | None = None
    last_hash: str = GENESIS_HASH
    anchor_seen: bool = False
    failure: VerifyResult | None = None


def _walk_chain(rows: Iterable, anchor: str | None) -> _Walk:
    walk = _Walk(anchor_seen=anchor is None)
    for row in rows:
        row = dict(row)
        if row["prev_hash"] != walk.last_hash:
            after = f"row {walk.last_id}" if walk.last_id is not None else "the start of the log"
            walk.failure = VerifyResult(False, walk.rows + 1, row["id"],
                                        f"row {row['id']} does not follow {after}: rows between them were "
                                        "deleted, inserted or reordered", walk.last_hash)
            return walk
        if row_hash(walk.last_hash, row) != row["hash"]:
            walk.failure = VerifyResult(False, walk.rows + 1, row["id"],
                                        f"row {row['id']} was modified after it was written", walk.last_hash)
            return walk
        walk.rows, walk.last_id, walk.last_hash = walk.rows + 1, row["id"], row["hash"]
        walk.anchor_seen = walk.anchor_seen or row["hash"] == anchor
    return walk
