"""Jobs and their items, persisted in SQLite (``<data_dir>/jobs.sqlite3``) or Postgres (``database.url``), with
their files on disk under ``<data_dir>/jobs`` (a folder every replica and worker shares in a multi-process
deployment).

A job runs one saved workflow over one or more items (one item per image of a
batch; a single call is a job of one item), or one streaming pipeline over a
video (``video_jobs.py``). Uploads are received into ``jobs/.staging/`` and
moved into the job when it is created. Item inputs are written under
``<data_dir>/jobs/<job id>/<index>/input/`` before the job is accepted and
results under ``.../<index>/output/``, so a job survives the process being
killed: ``recover()`` puts interrupted items back in the queue at start-up
(or fails them, with a reason, after ``MAX_ATTEMPTS`` interrupted tries).
An item's input folder is deleted as soon as the item ends, however it ends
(completed, failed, cancelled, given up after a restart); results stay until
the job expires. The database, folders and files are created readable by the
service's user only (0600 files, 0700 folders).

With a job queue (Postgres mode) an item is run by a worker process: ``claim``
marks it running with a new attempt number, and only the holder of the
latest attempt may record its outcome (``finish_item(..., attempt=n)``), so an
item re-delivered after a worker died is completed at most once.
``cancel_requested`` tells workers on other machines to stop a job's running
items. The schema is versioned (``MIGRATIONS``, see ``db/migrations.py``). A job created with a
``webhook_url`` has its event stored (``webhooks/deliveries.py``) in the transaction that settles it.

States: job ``queued -> running -> completed | failed | cancelled``;
item ``queued -> running -> completed | failed | cancelled``. A job whose items
all ended is ``completed`` when at least one item completed, else ``failed``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..storage import migrations
from ..storage.database import Database
from ..storage.disk_space import DiskSpace
from ..webhooks import deliveries

MAX_ATTEMPTS = 2
STAGING = ".staging"
FINAL_STATES = ("completed", "failed", "cancelled")

MIGRATIONS: list[list[str]] = [
    [  # 1: the schema before migrations existed
        """CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key_id TEXT,
    operation TEXT NOT NULL,
    workflow TEXT NOT NULL,
    plan TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    idempotency_key TEXT,
    request_hash TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    expires_at REAL
)""",
        """CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL""",
        """CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state)""",
        """CREATE TABLE IF NOT EXISTS items (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    inputs TEXT NOT NULL,
    result TEXT,
    error TEXT,
    started_at REAL,
    finished_at REAL,
    PRIMARY KEY (job_id, idx)
)""",
    ],
    [  # 2: cancellation that reaches workers in other processes
        "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE items ADD COLUMN worker TEXT",  # who ran (or runs) the item, for per-worker throughput
    ],
    [  # 3: where the job's end is announced (webhooks/deliveries.py stores the event when it settles)
        "ALTER TABLE jobs ADD COLUMN webhook_url TEXT",
    ],
]


@dataclass
class Item:
    job_id: str
    index: int
    state: str
    attempts: int
    inputs: dict[str, str]  # binding name -> input file name inside the item's input folder
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"index": self.index, "state": self.state}
        if self.error:
            entry["error"] = self.error
        if self.started_at and self.finished_at:
            entry["seconds"] = round(self.finished_at - self.started_at, 3)
        return entry


@dataclass
class Job:
    id: str
    key_id: str | None
    operation: str
    workflow: str
    plan: dict[str, Any]  # {"bindings": {...}, "hide_titles": [...]}: what every item runs with
    state: str
    created_at: float
    error: dict[str, str] | None = None
    started_at: float | None = None
    finished_at: float | None = None
    expires_at: float | None = None
    items: list[Item] = field(default_factory=list)
    webhook_url: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def counts(self) -> dict[str, int]:
        return _counts([item.state for item in self.items])

    def to_dict(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "workflow": self.workflow,
            "state": self.state,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "expires_at": self.expires_at,
            "progress": {"total": len(self.items), **self.counts()},
            "items": [item.to_dict() for item in self.items],
        }
        if self.error:
            summary["error"] = self.error
        if self.webhook_url:
            summary["webhook_url"] = self.webhook_url
        return summary


class IdempotencyConflict(Exception):
    """The idempotency key was used before with a different request."""


class JobStore:
    """Thread-safe access to the jobs database and the job folders.

    With ``disk``, new jobs and staged uploads are refused (``BelowReserve``, an ``ENOSPC`` error) while the free
    space is below its reserve.
    """

    def __init__(self, data_dir: Path, database: Database | None = None, disk: DiskSpace | None = None):
        self.disk = disk
        self.root = Path(data_dir) / "jobs"
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.db = database or Database(Path(data_dir) / "jobs.sqlite3")
        self._owns_db = database is None
        migrations.upgrade(self.db, "jobs", MIGRATIONS)
        migrations.upgrade(self.db, "webhooks", deliveries.MIGRATIONS)

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    # --- files -------------------------------------------------------------------------------

    def item_dir(self, job_id: str, index: int) -> Path:
        return self.root / job_id / str(index)

    def input_path(self, item: Item, name: str) -> Path:
        return self.item_dir(item.job_id, item.index) / "input" / item.inputs[name]

    def staging_path(self) -> Path:
        """A fresh private path for an upload being received; the folder is emptied by ``recover``."""
        self._require_space()
        folder = self.root / STAGING
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder / f"{secrets.token_hex(12)}.part"

    def _drop_inputs(self, items) -> None:
        """Delete the input folders of ended items ((job id, index) pairs)."""
        for job_id, index in items:
            shutil.rmtree(self.item_dir(job_id, index) / "input", ignore_errors=True)

    # --- writing -----------------------------------------------------------------------------

    def create(self, *, key_id: str | None, operation: str, workflow: str, plan: dict[str, Any],
               item_images: list[dict[str, bytes | Path]], idempotency_key: str | None = None,
               request_hash: str | None = None, webhook_url: str | None = None) -> tuple[Job, bool]:
        """Store a new queued job with its input files; return (job, created). With ``webhook_url``, its end is
        announced there (a delivery stored when it settles).

        An input is bytes, or the path of a file in ``staging_path()``'s folder, moved into the job.

        With an idempotency key already used by this key id for the same request
        hash, the earlier job is returned with created=False; for another request,
        IdempotencyConflict is raised.
        """
        if idempotency_key is not None:
            earlier = self.find_idempotent(key_id, idempotency_key, request_hash)
            if earlier is not None:
                return earlier, False
        self._require_space()
        job_id = secrets.token_hex(12)
        try:
            inputs_per_item = [self._write_inputs(job_id, index, images) for index, images in enumerate(item_images)]
        except BaseException:  # a full disk: no half-written job is left behind
            shutil.rmtree(self.root / job_id, ignore_errors=True)
            raise
        now = time.time()
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO jobs (id, key_id, operation, workflow, plan, state, idempotency_key, request_hash,"
                    " created_at, webhook_url) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (job_id, key_id, operation, workflow, json.dumps(plan), idempotency_key, request_hash, now,
                     webhook_url),
                )
                tx.executemany(
                    "INSERT INTO items (job_id, idx, state, inputs) VALUES (?, ?, 'queued', ?)",
                    [(job_id, index, json.dumps(names)) for index, names in enumerate(inputs_per_item)],
                )
        except self.db.integrity_errors:  # the same idempotency key raced in from another request
            shutil.rmtree(self.root / job_id, ignore_errors=True)
            return self.create(key_id=key_id, operation=operation, workflow=workflow, plan=plan,
                               item_images=item_images, idempotency_key=idempotency_key, request_hash=request_hash,
                               webhook_url=webhook_url)
        except BaseException:  # the database is full or down: the job does not exist, nor do its files
            shutil.rmtree(self.root / job_id, ignore_errors=True)
            raise
        return self.get(job_id), True

    def _require_space(self) -> None:
        if self.disk is not None:
            self.disk.require()

    def _write_inputs(self, job_id: str, index: int, images: dict[str, bytes | Path]) -> dict[str, str]:
        """Write (or move in) one item's input files; their file names by binding."""
        folder = self.item_dir(job_id, index) / "input"
        for directory in (self.root / job_id, folder.parent, folder):
            directory.mkdir(mode=0o700, exist_ok=True)
        names = {}
        for position, (binding, data) in enumerate(images.items()):
            names[binding] = f"{position}.bin"
            if isinstance(data, Path):  # a file staged by the endpoint (an upload streamed to disk)
                os.replace(data, folder / names[binding])
            else:
                _write_private(folder / names[binding], data)
        return names

    def find_idempotent(self, key_id: str | None, idempotency_key: str, request_hash: str | None) -> Job | None:
        """The job this key id created with this idempotency key; IdempotencyConflict if for another request."""
        with self.db.transaction() as tx:
            row = tx.execute(
                "SELECT id, request_hash FROM jobs WHERE key_id IS NOT DISTINCT FROM ? AND idempotency_key = ?",
                (key_id, idempotency_key),
            ).fetchone()
        if row is None:
            return None
        if row["request_hash"] != request_hash:
            raise IdempotencyConflict(idempotency_key)
        return self.get(row["id"])

    def start_item(self, job_id: str, index: int) -> bool:
        """Mark a queued item running (and its job); False when it is no longer queued (cancelled)."""
        return self.claim(job_id, index, max_attempts=None, ttl_seconds=0.0) is not None

    def claim(self, job_id: str, index: int, max_attempts: int | None, ttl_seconds: float,
              worker: str | None = None) -> int | None:
        """Mark an item running under a new attempt number and return it; None when it has ended.

        A ``running`` item is claimed again only with ``max_attempts`` (a queue re-delivering the item of a worker
        that died); once it has had ``max_attempts`` tries it is failed with the reason, and None is returned.
        """
        now = time.time()
        claimable = "('queued', 'running')" if max_attempts is not None else "('queued')"
        with self.db.transaction() as tx:
            _lock_job(tx, job_id)
            row = tx.execute(f"SELECT state, attempts FROM items WHERE job_id = ? AND idx = ? AND state IN {claimable}",
                             (job_id, index)).fetchone()
            if row is None:
                return None
            if max_attempts is not None and row["attempts"] >= max_attempts:
                tx.execute("UPDATE items SET state = 'failed', error = ?, finished_at = ? WHERE job_id = ? AND idx = ?",
                           (_dumps(_interrupted(max_attempts)), now, job_id, index))
                self._settle(tx, job_id, now, ttl_seconds)
                settled = True
            else:
                tx.execute("UPDATE items SET state = 'running', attempts = attempts + 1, started_at = ?, worker = ?"
                           " WHERE job_id = ? AND idx = ?", (now, worker, job_id, index))
                tx.execute("UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?)"
                           " WHERE id = ? AND state = 'queued'", (now, job_id))
                settled = False
        if settled:
            self._drop_inputs([(job_id, index)])
            return None
        return row["attempts"] + 1

    def finish_item(self, job_id: str, index: int, *, result: dict | None = None, error: dict | None = None,
                    state: str | None = None, ttl_seconds: float, attempt: int | None = None,
                    also: Callable[[Any], None] | None = None) -> Job | None:
        """Record an item's outcome; when it was the job's last, settle the job. Returns the job.

        With ``attempt``, only while the item is still running that attempt (else nothing changes and None is
        returned: another worker took the item over, or it was cancelled). ``also(tx)`` runs in the same
        transaction when the outcome is recorded (the item's audit row: written exactly once with it).
        """
        state = state or ("completed" if error is None else "failed")
        now = time.time()
        with self.db.transaction() as tx:
            _lock_job(tx, job_id)
            guard = " AND state = 'running' AND attempts = ?" if attempt is not None else ""
            changed = tx.execute(
                "UPDATE items SET state = ?, result = ?, error = ?, finished_at = ? WHERE job_id = ? AND idx = ?"
                + guard,
                (state, _dumps(result), _dumps(error), now, job_id, index) + ((attempt,) if attempt is not None else ()),
            ).rowcount
            if changed:
                self._settle(tx, job_id, now, ttl_seconds)
                if also is not None:
                    also(tx)
        if not changed and attempt is not None:
            return None
        self._drop_inputs([(job_id, index)])
        return self.get(job_id)

    def cancel(self, job_id: str, ttl_seconds: float) -> Job:
        """Cancel the queued items (running ones stop at their next check) and settle the job."""
        now = time.time()
        with self.db.transaction() as tx:
            _lock_job(tx, job_id)
            cancelled = tx.execute(
                "SELECT job_id, idx FROM items WHERE job_id = ? AND state = 'queued'", (job_id,)).fetchall()
            tx.execute(
                "UPDATE items SET state = 'cancelled', error = ?, finished_at = ? WHERE job_id = ? AND state = 'queued'",
                (_dumps({"code": "cancelled", "message": "the job was cancelled"}), now, job_id),
            )
            tx.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            self._settle(tx, job_id, now, ttl_seconds)
        self._drop_inputs([tuple(row) for row in cancelled])
        return self.get(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        with self.db.transaction() as tx:
            row = tx.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is None or bool(row[0])

    def _settle(self, tx, job_id: str, now: float, ttl_seconds: float) -> None:
        """Inside a transaction: when no item is queued or running, give the job its final state, and store the
        webhook event of a job that has a webhook URL (once: only the transaction that ends the job gets here)."""
        states = [row[0] for row in tx.execute("SELECT state FROM items WHERE job_id = ?", (job_id,)).fetchall()]
        if any(state in ("queued", "running") for state in states):
            return
        if "completed" in states:
            final, error = "completed", None
        elif "cancelled" in states:
            final, error = "cancelled", {"code": "cancelled", "message": "the job was cancelled"}
        else:
            final, error = "failed", {"code": "all_items_failed", "message": "every item of the job failed"}
        ended = tx.execute(
            "UPDATE jobs SET state = ?, error = COALESCE(error, ?), finished_at = ?, expires_at = ?"
            " WHERE id = ? AND state NOT IN ('completed', 'failed', 'cancelled')",
            (final, _dumps(error), now, now + ttl_seconds, job_id),
        ).rowcount
        if not ended:
            return
        row = tx.execute("SELECT operation, key_id, webhook_url, error FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row["webhook_url"]:
            summary = {"id": job_id, "operation": row["operation"], "state": final, "error": _loads(row["error"]),
                       "progress": {"total": len(states), **_counts(states)}}
            deliveries.enqueue_in(tx, job=summary, key_id=row["key_id"], url=row["webhook_url"], at=now)

    def recover(self, ttl_seconds: float) -> list[Item]:
        """After a restart: requeue interrupted items (fail those tried MAX_ATTEMPTS times); return the queued ones."""
        now = time.time()
        missing = {"code": "inputs_lost", "message": "the item's input files are missing after a restart"}
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE items SET state = 'failed', error = ?, finished_at = ? WHERE state = 'running' AND attempts >= ?",
                (_dumps(_interrupted(MAX_ATTEMPTS)), now, MAX_ATTEMPTS),
            )
            tx.execute("UPDATE items SET state = 'queued' WHERE state = 'running'")
            rows = tx.execute(
                "SELECT job_id, idx, inputs FROM items WHERE state = 'queued' ORDER BY job_id, idx"
            ).fetchall()
            for row in rows:
                folder = self.item_dir(row["job_id"], row["idx"]) / "input"
                if not all((folder / name).is_file() for name in json.loads(row["inputs"]).values()):
                    tx.execute(
                        "UPDATE items SET state = 'failed', error = ?, finished_at = ? WHERE job_id = ? AND idx = ?",
                        (_dumps(missing), now, row["job_id"], row["idx"]),
                    )
            unsettled = tx.execute(
                "SELECT id FROM jobs WHERE state NOT IN ('completed', 'failed', 'cancelled')"
            ).fetchall()
            for row in unsettled:
                self._settle(tx, row["id"], now, ttl_seconds)
            queued = tx.execute(
                "SELECT * FROM items WHERE state = 'queued' ORDER BY job_id, idx"
            ).fetchall()
            ended = tx.execute(
                "SELECT job_id, idx FROM items WHERE state IN ('completed', 'failed', 'cancelled')"
            ).fetchall()
        self._drop_inputs([tuple(row) for row in ended])  # also those a crash left between finish and clean-up
        shutil.rmtree(self.root / STAGING, ignore_errors=True)  # uploads a crash cut off before their job existed
        return [_item(row) for row in queued]

    def delete_stale_uploads(self, older_than_seconds: float) -> int:
        """Delete staged uploads untouched for ``older_than_seconds`` (their request died with its process: with a
        shared folder, ``recover`` cannot empty it while other replicas receive uploads); return how many."""
        deadline = time.time() - older_than_seconds
        deleted = 0
        for path in (self.root / STAGING).glob("*.part"):
            try:
                if path.stat().st_mtime < deadline:
                    path.unlink()
                    deleted += 1
            except FileNotFoundError:  # moved into its job meanwhile
                continue
        return deleted

    def delete_expired(self, now: float | None = None) -> int:
        """Delete finished jobs past their retention time, with their files; return how many."""
        now = time.time() if now is None else now
        with self.db.transaction() as tx:
            expired = [row[0] for row in tx.execute("SELECT id FROM jobs WHERE expires_at <= ?", (now,)).fetchall()]
            if expired:
                tx.executemany("DELETE FROM jobs WHERE id = ?", [(job_id,) for job_id in expired])
        for job_id in expired:
            shutil.rmtree(self.root / job_id, ignore_errors=True)
        return len(expired)

    # --- reading -----------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self.db.transaction() as tx:
            row = tx.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            items = tx.execute("SELECT * FROM items WHERE job_id = ? ORDER BY idx", (job_id,)).fetchall()
        return Job(
            id=row["id"], key_id=row["key_id"], operation=row["operation"], workflow=row["workflow"],
            plan=json.loads(row["plan"]), state=row["state"], created_at=row["created_at"],
            error=_loads(row["error"]), started_at=row["started_at"], finished_at=row["finished_at"],
            expires_at=row["expires_at"], items=[_item(item) for item in items], webhook_url=row["webhook_url"],
        )

    def count_by_state(self) -> dict[str, int]:
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {row[0]: row[1] for row in rows}

    def items_by_state(self) -> dict[str, int]:
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall()
        return {row[0]: row[1] for row in rows}


def _lock_job(tx, job_id: str) -> None:
    """Serialise the transactions that change a job's items (Postgres row lock; SQLite transactions are serial
    already): two items ending at once on two workers must not each see the other still running, leaving the
    job unsettled."""
    if tx.postgres:
        tx.execute("SELECT id FROM jobs WHERE id = ? FOR UPDATE", (job_id,))


def _counts(states: list[str]) -> dict[str, int]:
    """How many items are in each state."""
    counts = {state: 0 for state in ("queued", "running", *FINAL_STATES)}
    for state in states:
        counts[state] += 1
    return counts


def _interrupted(attempts: int) -> dict[str, str]:
    return {"code": "interrupted",
            "message": f"processing stopped {attempts} times (the server or worker died) on this item; "
                       "it was not retried"}


def _write_private(path: Path, data: bytes) -> None:
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
        handle.write(data)


def _item(row) -> Item:
    return Item(
        job_id=row["job_id"], index=row["idx"], state=row["state"], attempts=row["attempts"],
        inputs=json.loads(row["inputs"]), result=_loads(row["result"]), error=_loads(row["error"]),
        started_at=row["started_at"], finished_at=row["finished_at"],
    )


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
