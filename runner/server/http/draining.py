"""Stopping the service without dropping work: ``playalter serve`` drains on SIGTERM or SIGINT before it closes.

While it drains:

- ``/ready`` answers 503 (a load balancer stops sending traffic here);
- every new request but ``/health`` and ``/ready`` is answered 503 ``shutting_down`` with ``Retry-After`` and
  ``Connection: close`` (a client retries on another replica, or after the restart);
- SSE streams end (their clients reconnect elsewhere; the job goes on);
- the requests already in flight run to their end: a single call waiting for its item gets its answer.

Draining ends when no request is in flight, or after ``server.shutdown_grace_seconds``; the service then closes,
cancelling what still runs: an item cut off is put back in the queue at the next start (``JobStore.recover``).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ..errors import error_response
from ..jobs.listeners import JobListeners

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
ALWAYS_ANSWERED = ("/health", "/ready")


class Drain:
    """Counts the requests in flight; ``drain(grace)`` refuses new ones and waits for those to end."""

    def __init__(self) -> None:
        self.draining = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        if request.path in ALWAYS_ANSWERED:
            return await handler(request)
        if self.draining:
            return error_response(503, "shutting_down", "this server is shutting down; retry shortly",
                                  headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Connection": "close"})
        self._in_flight += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self, grace_seconds: float, listeners: JobListeners) -> None:
        """Stop admitting, end the SSE streams, and wait up to ``grace_seconds`` for the requests in flight."""
        self.draining = True
        for job_id in listeners.job_ids():
            listeners.close(job_id)
        log.info("shutting down: %d request(s) in flight, waiting up to %g s for them", self._in_flight,
                 grace_seconds)
        try:
            await asyncio.wait_for(self._idle.wait(), grace_seconds)
        except asyncio.TimeoutError:
            log.warning("shutting down: %d request(s) still in flight after %g s are cancelled", self._in_flight,
                        grace_seconds)


DRAIN = web.AppKey("drain", Drain)
