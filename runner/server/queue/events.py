"""Job events across processes through Postgres LISTEN/NOTIFY (channel ``playalter_events``).

Workers ``notify`` (job id, event, data); every API replica runs a ``Listener``
that hands each notification to its local SSE subscribers, whichever replica
the client is connected to. A payload must stay under Postgres' 8000 bytes:
"done" carries only the job id (the replica reads the job from the database).
The listener reconnects after a database restart; events sent meanwhile are
lost, which the SSE endpoint and ``wait`` cover by re-reading the job.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable

import psycopg

from ..db.database import Database

CHANNEL = "playalter_events"
RECONNECT_SECONDS = 1.0

log = logging.getLogger(__name__)


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
