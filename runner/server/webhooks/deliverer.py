"""The webhook sender of a process: claims due deliveries, signs and sends them, records each attempt.

Every API replica (``playalter serve``) and every queue worker runs one
(``run``), over the database that holds the jobs; the claim's lease makes each
delivery go out from one of them at a time. Each attempt is stored with the
delivery (shown in ``GET /api/jobs/{id}``) and appended to the audit log
(operation ``webhook.delivery``, the job's key id, outcome ``ok`` or
``webhook_failed``, the receiver's HTTP status). ``clock`` (epoch seconds)
decides what is due and when the next try is, so a test can step through the
backoff schedule without waiting; the ``webhook-timestamp`` header is always
the real time, which receivers compare with theirs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from typing import Callable
from urllib.parse import urlsplit

from ..storage.audit_log import AuditLog
from ..storage.database import Database
from . import deliveries, sender
from .deliveries import Attempt, Delivery
from .signing import SecretStore, signature_header

POLL_SECONDS = 1.0
MAX_IN_FLIGHT = 8

log = logging.getLogger(__name__)


class WebhookDeliverer:
    def __init__(self, database: Database, audit: AuditLog | None, *, allow_private: bool,
                 clock: Callable[[], float] = time.time):
        self.db = database
        self.audit = audit
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"  # who holds a lease
        self.allow_private = allow_private
        self.clock = clock
        self.secrets = SecretStore(database)
        self._sending: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Until cancelled: every ``POLL_SECONDS``, start the due deliveries there is room for."""
        try:
            while True:
                room = MAX_IN_FLIGHT - len(self._sending)
                if room > 0:
                    try:
                        claimed = await asyncio.to_thread(deliveries.claim, self.db, self.worker, self.clock(), room)
                    except self.db.errors as error:
                        log.warning("webhook deliveries cannot be read (%s); retrying", type(error).__name__)
                        claimed = []
                    for delivery in claimed:
                        task = asyncio.create_task(self.attempt(delivery))
                        self._sending.add(task)
                        task.add_done_callback(self._sending.discard)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            for task in list(self._sending):
                task.cancel()  # its lease runs out and another sender takes the delivery over

    async def deliver_due(self) -> list[str | None]:
        """Claim the deliveries due now and attempt them all; their states afterwards (see ``attempt``)."""
        claimed = await asyncio.to_thread(deliveries.claim, self.db, self.worker, self.clock(), MAX_IN_FLIGHT)
        return list(await asyncio.gather(*(self.attempt(delivery) for delivery in claimed)))

    async def attempt(self, delivery: Delivery) -> str | None:
        """Sign and send one claimed delivery and record how it went; the delivery's state after it (None: it
        could not be recorded, and goes to another sender once the lease ends)."""
        try:
            outcome = await self._send(delivery)
            state = await asyncio.to_thread(deliveries.record, self.db, delivery, self.worker, outcome, self.clock())
        except self.db.errors as error:
            log.warning("webhook %s: attempt %d could not be signed or recorded (%s)", delivery.id,
                        delivery.attempt, type(error).__name__)
            return None
        if state is None:
            log.warning("webhook %s: the lease ran out during attempt %d; its outcome is dropped", delivery.id,
                        delivery.attempt)
            return None
        if self.audit is not None:
            try:
                await self.audit.record(
                    key_id=delivery.key_id, operation="webhook.delivery", outcome="ok" if outcome.succeeded else
                    "webhook_failed", status=outcome.status, duration_ms=outcome.duration_ms,
                    parameters={"job_id": delivery.job_id, "webhook_id": delivery.id, "event": delivery.event,
                                "attempt": delivery.attempt, "host": urlsplit(delivery.url).hostname,
                                "state": state, "error": outcome.error})
            except self.audit.db.errors as error:
                log.warning("webhook %s: attempt %d is not in the audit log (%s)", delivery.id, delivery.attempt,
                            type(error).__name__)
        return state

    async def _send(self, delivery: Delivery) -> Attempt:
        """Sign the delivery with its key's secrets in use now and POST it."""
        if delivery.key_id is None:
            return Attempt(None, "the job has no API key whose secret could sign it", "", 0.0)
        timestamp = int(time.time())
        secrets_in_use = await asyncio.to_thread(self.secrets.signing, delivery.key_id)
        headers = {"webhook-id": delivery.id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": signature_header(secrets_in_use, delivery.id, timestamp, delivery.body)}
        return await sender.post(delivery.url, delivery.body, headers, allow_private=self.allow_private)
