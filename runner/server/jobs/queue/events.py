"""Job events across processes through Postgres LISTEN/NOTIFY (channel ``playalter_events``).

Workers ``notify`` (job id, event, data); every API replica runs a ``Listener``
that hands each notification to its local SSE subscribers, whichever replica
the client is connected to. A payload must stay under Postgres' 8000 bytes:
"done" carries only the job id (the replica reads the job from the database).
The listener reconnects after a database restart; events sent meanwhile are
lost, which the SSE endpoint and ``wait`` cover by re-reading the job.
An item's ``progress`` events go out through ``ProgressThrottle``: each is a
database round trip for the worker and a message for every replica, and a
photo item makes a dozen of them in a tenth of a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

import psycopg

from ...storage.database import Database

CHANNEL = "playalter_events"
RECONNECT_SECONDS = 1.0
PROGRESS_SECONDS = 0.25  # an item's progress events are sent at most this often

log = logging.getLogger(__name__)


class ProgressThrottle:
    """``send(event, data)`` for one item, with its ``progress`` events at most every ``seconds``: the first is
    sent, later ones within the interval are held back, and the last held back goes out before the next
    event of another kind or at ``flush()`` (so the final progress, e.g. every frame done, is never lost)."""

    def __init__(self, send: Callable[[str, dict[str, Any]], None], seconds: float = PROGRESS_SECONDS):
        self.send, self.seconds = send, seconds
        self.sent_at: float | None = None
        self.held: dict[str, Any] | None = None

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if event != "progress":
            self.flush()
            self.send(event, data)
            return
        now = time.monotonic()
        if self.sent_at is None or now - self.sent_at >= self.seconds:
            self.sent_at, self.held = now, None
            self.send(event, data)
        else:
            self.held = data

    def flush(self) -> None:
        if self.held is not None:
            held, self.held = self.held, None
            self.sent_at = time.monotonic()
            self.send("progress", held)


def notify(database: Database, job_id: str, event: str, data: dict[str, Any] | None = None) -> None:
    payload = json.dumps({"job": job_id, "event": event, "data": data or {}})
    with database.transaction() as tx:
        tx.execute("SELECT pg_notify(?, ?)", (CHANNEL, payload))


class Listener:
    def __init__(self, url: str, deliver: Callable[[str, str, dict[str, Any]], None]):
        self.url = url
        self.deliver = deliver
        self.connected = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    async for notification in connection.notifies():
                        message = json.loads(notification.payload)
                        self.deliver(message["job"], message["event"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("job events: the database connection was lost (%s); reconnecting",
                            type(error).__name__)
            self.connected.clear()
            await asyncio.sleep(RECONNECT_SECONDS)
