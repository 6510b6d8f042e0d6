"""Durable webhook deliveries: one row per event in the jobs database, its attempts, and who may send it next.

A job's event is stored (``enqueue_in``) in the same transaction that gives
the job its final state, so it is written exactly once, by whichever process
settled the job, and survives any restart after that. A delivery is then
``pending`` with ``next_attempt_at``; a sender ``claim``s due ones by setting
a lease (``lease_until``, ``claimed_by``) with a conditional UPDATE that only
one process can win (on Postgres the candidates are read ``FOR UPDATE SKIP
LOCKED``, so replicas do not queue behind each other). A sender that died
mid-attempt loses its lease after ``LEASE_SECONDS`` and another one takes the
delivery over. ``record`` stores the attempt and schedules the next one after
``RETRY_DELAYS`` (5 s, 30 s, 5 min, 30 min, 2 h, 5 h: seven attempts over
about 7.6 hours), or ends the delivery ``delivered`` or ``failed``; only the
lease holder may record.

The body is fixed when the event is stored, and so is its ``webhook-id``
(``id``): a receiver sees the same id on every retry, and uses it to ignore a
repeat (a sender that died after the receiver answered, before it recorded).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from ..storage.database import Database

RETRY_DELAYS = (5.0, 30.0, 300.0, 1800.0, 7200.0, 18000.0)  # seconds after attempt 1, 2, ... before the next
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
LEASE_SECONDS = 60.0  # longer than an attempt can take (sender.TIMEOUT_SECONDS)
EVENTS = {"completed": "job.completed", "failed": "job.failed", "cancelled": "job.cancelled"}

MIGRATIONS: list[list[str]] = [
    [  # 1: secrets per API key, deliveries per job event, and their attempts
        """CREATE TABLE IF NOT EXISTS webhook_secrets (
    key_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at REAL NOT NULL,
    previous_secret TEXT,
    previous_expires_at REAL
)""",
        """CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key_id TEXT,
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL,
    lease_until REAL,
    claimed_by TEXT,
    UNIQUE (job_id, event)
)""",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)",
        """CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    at REAL NOT NULL,
    status INTEGER,
    error TEXT,
    response TEXT,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (delivery_id, number)
)""",
    ],
]


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery: what to send, where, and which attempt this is."""

    id: str
    job_id: str
    key_id: str | None
    event: str
    url: str
    body: bytes
    attempt: int


@dataclass(frozen=True)
class Attempt:
    """How one attempt went: the HTTP status (None: no answer), why it failed, the start of the answer."""

    status: int | None
    error: str | None
    response: str
    duration_ms: float

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def event_body(message_id: str, event: str, job: dict[str, Any], at: float) -> str:
    """The JSON body of a job event: its type, when, and the job's id, state, progress and links."""
    location = f"/api/jobs/{job['id']}"
    data = {"id": job["id"], "operation": job["operation"], "state": job["state"], "progress": job["progress"],
            "links": {"self": location, "download": f"{location}/download"}}
    if job.get("error"):
        data["error"] = job["error"]
    return json.dumps({"type": event, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
                       "data": data}, separators=(",", ":"))


def enqueue_in(tx, *, job: dict[str, Any], key_id: str | None, url: str, at: float) -> str:
    """Inside the transaction that settles ``job`` (its summary, state final): store its event; return its id."""
    message_id = "msg_" + secrets.token_hex(12)
    event = EVENTS[job["state"]]
    tx.execute("INSERT INTO webhook_deliveries (id, job_id, key_id, event, url, body, state, created_at,"
               " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
               (message_id, job["id"], key_id, event, url, event_body(message_id, event, job, at), at, at))
    return message_id


def claim(database: Database, worker: str, now: float, limit: int = 8) -> list[Delivery]:
    """Lease up to ``limit`` due deliveries to ``worker`` until ``now + LEASE_SECONDS``."""
    due = ("SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
           " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at LIMIT ?")
    claimed = []
    with database.transaction() as tx:
        candidates = tx.execute(due + (" FOR UPDATE SKIP LOCKED" if tx.postgres else ""), (now, now, limit)).fetchall()
        for (delivery_id,) in candidates:
            won = tx.execute("UPDATE webhook_deliveries SET lease_until = ?, claimed_by = ? WHERE id = ?"
                             " AND state = 'pending' AND (lease_until IS NULL OR lease_until <= ?)",
                             (now + LEASE_SECONDS, worker, delivery_id, now)).rowcount
            if won:
                row = tx.execute("SELECT * FROM webhook_deliveries WHERE id = ?", (delivery_id,)).fetchone()
                claimed.append(Delivery(row["id"], row["job_id"], row["key_id"], row["event"], row["url"],
                                        row["body"].encode(), row["attempts"] + 1))
    return claimed


def record(database: Database, delivery: Delivery, worker: str, attempt: Attempt, at: float) -> str | None:
    """Store an attempt of a delivery ``worker`` holds and schedule what follows; return the delivery's state now
    (``delivered``, ``pending`` or ``failed``), or None when the lease was lost and nothing was stored."""
    if attempt.succeeded:
        state, next_at = "delivered", None
    elif delivery.attempt >= MAX_ATTEMPTS:
        state, next_at = "failed", None
    else:
        state, next_at = "pending", at + RETRY_DELAYS[delivery.attempt - 1]
    with database.transaction() as tx:
        held = tx.execute("UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?,"
                          " lease_until = NULL, claimed_by = NULL WHERE id = ? AND claimed_by = ? AND attempts = ?",
                          (state, delivery.attempt, next_at, delivery.id, worker, delivery.attempt - 1)).rowcount
        if not held:
            return None
        tx.execute("INSERT INTO webhook_attempts (delivery_id, number, at, status, error, response, duration_ms)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)", (delivery.id, delivery.attempt, at, attempt.status, attempt.error,
                                                     attempt.response, round(attempt.duration_ms, 3)))
    return state


def for_job(database: Database, job_id: str) -> list[dict[str, Any]]:
    """A job's deliveries as ``GET /api/jobs/{id}`` shows them: event, state, attempts, next try."""
    with database.transaction() as tx:
        deliveries = tx.execute("SELECT id, event, url, state, next_attempt_at FROM webhook_deliveries"
                                " WHERE job_id = ? ORDER BY created_at", (job_id,)).fetchall()
        attempts = tx.execute("SELECT a.* FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id"
                              " WHERE d.job_id = ? ORDER BY a.number", (job_id,)).fetchall()
    shown = []
    for row in deliveries:
        shown.append({
            "id": row["id"], "event": row["event"], "url": row["url"], "state": row["state"],
            "next_attempt_at": row["next_attempt_at"],
            "attempts": [{"number": attempt["number"], "at": attempt["at"], "status": attempt["status"],
                          "error": attempt["error"], "response": attempt["response"],
                          "duration_ms": attempt["duration_ms"]}
                         for attempt in attempts if attempt["delivery_id"] == row["id"]],
        })
    return shown
