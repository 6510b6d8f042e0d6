"""Append-only, hash-chained audit log of every authenticated operation (SQLite).

Each row records who (key id), what (operation, sha256 of each input, the
parameters with secrets and payloads stripped), when, the outcome and the
duration, and stores ``hash = sha256(prev_hash + canonical JSON of the row,
id included)``. ``verify`` walks the chain from the genesis hash:

- an edited row no longer matches its own hash;
- a deleted, inserted or reordered row breaks the next row's ``prev_hash`` link;
- rows cut off at the tail are caught by the head record (last id, last hash,
  row count), which every append updates in the same transaction;
- emptied or dropped tables, or a database replaced by an older copy, are
  caught by the signed checkpoint beside the database (``audit_checkpoint``),
  which every append rewrites.

``verify_database`` (``playalter audit verify``) opens the database read-only
and never creates or changes anything; a damaged file is a failed verification
with a message, not an exception.

Someone able to rewrite the database file, its checkpoint and the checkpoint's
key could forge a consistent history. Against that, record the head hash that
``playalter audit verify`` prints somewhere else (a ticket, another host) and
pass it back as ``--anchor``: verification then also proves that this row is
still in the chain, unchanged.

``audit_middleware`` appends one row per authenticated request once its
handler finishes (also for 4xx/5xx and 429). Handlers enrich the row through
``request[AUDIT_NOTE]`` (an ``AuditNote``): ``note.add_input(image_bytes)``,
``note.parameters.update(mask_type=..., strength=...)``, ``note.operation =
"privacy.mask"``. Background work (batch jobs) appends its own rows with
``await audit.record(...)`` on the loop or ``audit.append(...)`` from a worker
thread.

Rows from the event loop are group-committed on the loop thread: WAL mode with
``synchronous=NORMAL`` makes a commit a plain write (no fsync), tens of
microseconds for a whole batch. A dedicated writer thread was tried first and
measured slower: the hand-offs to it and back (GIL switches that stall the
loop) cost more than the commit itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from aiohttp import web

from .audit_checkpoint import Checkpoint, CheckpointError, Snapshot, drift, fault, now_text
from .context import PRINCIPAL

GENESIS_HASH = "0" * 64
MAX_PARAMETER_TEXT = 256
_OMITTED_NAME_MARKERS = ("base64", "image", "password", "secret", "token", "api_key", "authorization", "cookie")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id          INTEGER PRIMARY KEY,
    time        REAL NOT NULL,
    key_id      TEXT,
    operation   TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    parameters  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    status      INTEGER,
    duration_ms REAL NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_id   INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    row_count INTEGER NOT NULL
);
"""
_HASHED_COLUMNS = ("id", "time", "key_id", "operation", "inputs", "parameters", "outcome", "status", "duration_ms")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    reason: str = ""
    head_hash: str = GENESIS_HASH


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    """The audit table. ``append`` writes at once (any thread). ``record``, for the event loop, queues the row
    and waits until it is committed: rows queued during one loop iteration are committed together in one
    transaction (group commit), so a busy server pays one commit per batch of requests, not per request.
    """

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(self.db_path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm the same mode
        self._lock = threading.Lock()
        self._checkpoint = Checkpoint(self.db_path)
        self._db = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._pending: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._start_checkpoint()

    def _start_checkpoint(self) -> None:
        """A first checkpoint for a new (or older, checkpoint-less) log; a vanished one is recorded as such."""
        if self._checkpoint.exists():
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                current = self._head_snapshot()
                broken = ""
                if self._checkpoint.key_path.exists():
                    broken = (f"the checkpoint was missing when the log was opened at {now_text()} "
                              f"(the database held {current.rows} rows)")
                if not self._checkpoint.exists():
                    self._checkpoint.write(Snapshot(current.rows, current.last_id, current.head, broken))
            finally:
                self._db.execute("COMMIT")

    def _head_snapshot(self) -> Snapshot:
        head = self._db.execute("SELECT last_id, last_hash, row_count FROM audit_head").fetchone()
        last_id, last_hash, count = tuple(head) if head else (None, GENESIS_HASH, 0)
        return Snapshot(count, last_id, last_hash)

    def close(self) -> None:
        self._flush()
        with self._lock:
            self._db.close()

    def append(self, *, key_id: str | None, operation: str, inputs=(), parameters: dict | None = None,
               outcome: str, status: int | None = None, duration_ms: float = 0.0,
               at: float | None = None) -> int:
        """Append one row now (inputs are sha256 hex digests); returns its id."""
        return self._write([_new_row(key_id, operation, inputs, parameters, outcome, status, duration_ms, at)])[0]

    def enqueue(self, *, key_id: str | None, operation: str, inputs=(), parameters: dict | None = None,
                outcome: str, status: int | None = None, duration_ms: float = 0.0,
                at: float | None = None) -> asyncio.Future:
        """Queue one row for the next group commit on the running loop; the future gets its id."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._pending.append((_new_row(key_id, operation, inputs, parameters, outcome, status, duration_ms, at), done))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return done

    async def record(self, **row) -> int:
        """``enqueue`` and wait until the row is committed."""
        return await self.enqueue(**row)

    def verify(self, anchor: str | None = None) -> VerifyResult:
        """``verify_database`` on this log's file."""
        return verify_database(self.db_path, anchor)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            ids = self._write([row for row, _ in batch])
        except Exception as error:  # the requests waiting on these rows see the failure
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
            return
        for row_id, (_, done) in zip(ids, batch):
            if not done.done():
                done.set_result(row_id)

    def _write(self, rows: list[dict[str, Any]]) -> list[int]:
        """Chain and insert ``rows`` in one transaction; ids follow the head record."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            previous_checkpoint = self._checkpoint.raw()
            try:
                current = self._head_snapshot()
                broken = self._compare_checkpoint(current)
                last_id, prev_hash, count = current.last_id or 0, current.head, current.rows
                ids = []
                for row in rows:
                    row = {**row, "id": last_id + 1, "prev_hash": prev_hash}
                    row["hash"] = row_hash(prev_hash, row)
                    self._db.execute(
                        "INSERT INTO audit_log (id, time, key_id, operation, inputs, parameters, outcome, status,"
                        " duration_ms, prev_hash, hash) VALUES (:id, :time, :key_id, :operation, :inputs,"
                        " :parameters, :outcome, :status, :duration_ms, :prev_hash, :hash)",
                        row,
                    )
                    last_id, prev_hash, count = row["id"], row["hash"], count + 1
                    ids.append(last_id)
                self._db.execute(
                    "INSERT INTO audit_head (singleton, last_id, last_hash, row_count) VALUES (1, ?, ?, ?)"
                    " ON CONFLICT (singleton) DO UPDATE SET last_id = excluded.last_id,"
                    " last_hash = excluded.last_hash, row_count = excluded.row_count",
                    (last_id, prev_hash, count),
                )
                self._checkpoint.write(Snapshot(count, last_id, prev_hash, broken))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._checkpoint.restore(previous_checkpoint)
                raise
        return ids

    def _compare_checkpoint(self, current: Snapshot) -> str:
        """What the checkpoint has on record as broken, plus any difference between it and the database now."""
        try:
            saved = self._checkpoint.read()
        except CheckpointError as error:
            return f"{error} (noticed at {now_text()})"
        if saved is None:
            return f"the checkpoint was missing at {now_text()} (the database held {current.rows} rows)"
        return drift(saved, current)


def _read_only(db_path: Path) -> sqlite3.Connection:
    uri = f"{db_path.resolve().as_uri()}?mode=ro"
    database = sqlite3.connect(uri, uri=True, isolation_level=None)
    database.row_factory = sqlite3.Row
    return database


def verify_database(db_path: str | Path, anchor: str | None = None) -> VerifyResult:
    """Walk the chain and compare it with the head record and the checkpoint; the first fault is named.

    Opens the database read-only: nothing is created or changed. ``anchor``: a head hash seen earlier.
    """
    db_path = Path(db_path)
    try:
        database = _read_only(db_path)
        try:
            database.execute("BEGIN")
            head = database.execute("SELECT last_id, last_hash, row_count FROM audit_head").fetchone()
            walk = _walk_chain(database.execute("SELECT * FROM audit_log ORDER BY id"), anchor)
            database.execute("COMMIT")
        finally:
            database.close()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return VerifyResult(False, 0, None, "the audit tables are missing: the log was wiped or replaced")
        return VerifyResult(False, 0, None, f"the database cannot be read ({error})")
    except sqlite3.DatabaseError as error:
        return VerifyResult(False, 0, None, f"the file is damaged, truncated or not an audit log ({error})")
    if walk.failure is not None:
        return walk.failure
    head_id, head_hash, head_count = tuple(head) if head else (None, GENESIS_HASH, 0)
    if (head_id, head_hash, head_count) != (walk.last_id, walk.last_hash, walk.rows):
        if head_count > walk.rows:
            what = "rows at the end were removed"
        else:
            what = "rows were added or changed at the end without going through the log"
        return VerifyResult(False, walk.rows, walk.last_id,
                            f"the log ends at row {walk.last_id} ({walk.rows} rows) but its head record says "
                            f"row {head_id} ({head_count} rows): {what}", walk.last_hash)
    checkpoint_fault = _checkpoint_fault(Checkpoint(db_path), Snapshot(walk.rows, walk.last_id, walk.last_hash))
    if checkpoint_fault:
        return VerifyResult(False, walk.rows, None, checkpoint_fault, walk.last_hash)
    if not walk.anchor_seen:
        return VerifyResult(False, walk.rows, None,
                            f"anchor {anchor} is not in the chain: the log was rewritten", walk.last_hash)
    return VerifyResult(True, walk.rows, None, "", walk.last_hash)


def _checkpoint_fault(checkpoint: Checkpoint, walked: Snapshot) -> str:
    try:
        saved = checkpoint.read()
    except CheckpointError as error:
        return f"{error}; the log cannot be shown complete"
    if saved is None:
        return (f"no checkpoint ({checkpoint.path.name}) beside the database: the log cannot be shown complete "
                "(the service writes one on every append)")
    return fault(saved, walked)


def _new_row(key_id, operation, inputs, parameters, outcome, status, duration_ms, at) -> dict[str, Any]:
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


def _walk_chain(rows: Iterable[sqlite3.Row], anchor: str | None) -> _Walk:
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


@dataclass
class AuditNote:
    """What a handler adds to its request's audit row."""

    operation: str
    inputs: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None

    def add_input(self, data: bytes) -> None:
        self.inputs.append(sha256_hex(data))


AUDIT = web.AppKey("playalter_audit", AuditLog)
AUDIT_NOTE = web.RequestKey("playalter_audit_note", AuditNote)


def operation_name(request: web.Request) -> str:
    """The route's name when it has one, else ``METHOD /path/{pattern}``."""
    route = request.match_info.route
    if route.name:
        return route.name
    canonical = route.resource.canonical if route.resource is not None else request.path
    return f"{request.method} {canonical}"


def _error_code(status: int, body: Any) -> str:
    if isinstance(body, (bytes, bytearray)):
        try:
            return str(json.loads(body)["error"]["code"])
        except (ValueError, KeyError, TypeError):
            pass
    return f"http_{status}"


@web.middleware
async def audit_middleware(request: web.Request, handler):
    """Append one audit row per authenticated request, whatever its outcome."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        return await handler(request)
    note = AuditNote(operation_name(request), parameters=dict(request.query))
    request[AUDIT_NOTE] = note
    started_at, started = time.time(), time.perf_counter()
    status, outcome = 500, "internal_error"
    try:
        response = await handler(request)
        status = response.status
        outcome = "ok" if status < 400 else _error_code(status, getattr(response, "body", None))
        return response
    except web.HTTPException as error:
        status = error.status
        outcome = "ok" if status < 400 else _error_code(status, error.body)
        raise
    except asyncio.CancelledError:
        status, outcome = 499, "client_closed_request"
        raise
    finally:
        row = dict(key_id=principal.key_id, operation=note.operation, inputs=note.inputs,
                   parameters=note.parameters, outcome=note.outcome or outcome, status=status,
                   duration_ms=(time.perf_counter() - started) * 1000.0, at=started_at)
        committed = request.app[AUDIT].enqueue(**row)
        if status != 499:  # a cancelled request cannot wait: its row is still written with the next commit
            await committed
