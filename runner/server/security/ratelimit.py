"""Per-key hourly rate limits by tier, and a cap on concurrent jobs per key.

Limits come from ``rate_limit.{basic,premium,enterprise}_per_hour`` and are
enforced with the ``limits`` library's *moving window*: a request is allowed
when fewer than ``limit`` units were spent in the last 3600 s. Unlike a fixed
window it never lets 2x the limit through around a window boundary, and its
acquire is all-or-nothing, so a refused batch of 10 spends nothing (a fixed
window counter would still be incremented). The acquire is atomic (in memory
it runs start to finish on the event loop, see ``InProcessLimiter``; in Redis
it is a Lua script), which is what makes the limit exact under concurrency:
with N units left, N + k simultaneous requests give exactly N successes.

Storage: ``rate_limit.storage`` is ``memory://`` (one process) or
``redis://host:port[/db]`` (also ``rediss://``, ``redis+sentinel://``,
``redis+cluster://``) so that replicas share the counters, e.g.
``PLAYALTER__RATE_LIMIT__STORAGE=redis://localhost:6379``. If the storage
cannot be reached the request is refused with 503 ``rate_limit_unavailable``
(fail closed), never let through unmetered.

What a request costs: only admitted work counts. A refused request (401, 403,
400/413/415/422 for a bad body, 404, 429 ``too_many_concurrent_jobs``, 503
``queue_full``) spends nothing. ``ratelimit_middleware`` charges an
authenticated request before its handler runs, 1 unit unless the route's
handler is decorated with ``@rate_cost(...)``; a route that matches no handler
(404, 405) is free:

    @rate_cost(0)                      # free: e.g. polling a job's status
    async def job_status(request): ...

    @rate_cost(AT_ADMISSION)           # charged by the handler once the work is admitted
    async def batch(request):
        body = ...                     # read and check the request first: a refusal costs nothing
        await charge(request, len(body["images_base64"]))   # 429 when over; all or nothing
        ...                            # queue the work

An ``AT_ADMISSION`` route is refused at once (429) when the key has no unit
left, before its body is read. A cost may also be ``async fn(request) -> int``
(it may read the body; if it raises, the request costs nothing and the handler
reports what is wrong). Every authenticated response, errors included, carries
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(epoch seconds when the oldest counted unit leaves the window), added by the
``add_rate_limit_headers`` response-prepare hook; a refused request gets 429
``rate_limit_exceeded`` with ``Retry-After`` (seconds), or 400
``cost_exceeds_limit`` when it costs more than the whole hourly limit.

Concurrent jobs: ``limiter.job_slot(principal)`` takes one of the key's
``rate_limit.max_concurrent_jobs`` slots at once or raises 429
``too_many_concurrent_jobs``. Use it as ``async with limiter.job_slot(p): ...``
around work the handler awaits, or keep the returned slot and call
``slot.release()`` when a background job ends. Slots are counted per process: each replica caps
the jobs running on its own worker pool.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Awaitable, Callable, Union

from aiohttp import web
from limits import RateLimitItem, RateLimitItemPerHour
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

from ..errors import json_error
from ..faults import OUTAGES, RATE_LIMIT_STORAGE
from ..logs import security_event
from .context import PRINCIPAL
from .keys import TIERS, Principal

log = logging.getLogger(__name__)

RATE_COST_ATTRIBUTE = "playalter_rate_cost"
JOB_RETRY_AFTER_SECONDS = 5
STORAGE_RETRY_AFTER_SECONDS = 5

AT_ADMISSION = "at_admission"  # the handler calls charge() when it admits the work

CostFunction = Callable[[web.Request], Awaitable[int]]
Cost = Union[int, str, CostFunction]


@dataclass(frozen=True)
class RateStatus:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int
    retry_after: int  # seconds; 0 when allowed

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch),
        }


def async_storage_uri(uri: str) -> str:
    """``memory://`` / ``redis://...`` as the asyncio storage scheme that ``limits`` expects."""
    return uri if uri.startswith("async+") else f"async+{uri}"


class InProcessLimiter:
    """``limits``' synchronous moving window behind the asyncio strategy interface, used for ``memory://``.

    Why not ``limits``' asyncio memory storage: it trims old entries in a task that holds the key's lock
    across an ``asyncio.to_thread`` call, scheduled on nearly every hit, so the next request on the same key
    waits for a thread hand-off (the cost: docs/http-security.md, "Cost"). The synchronous storage trims on
    a timer thread (at most every 10 ms) and its acquire runs start to finish on the event loop, which also
    keeps the limit exact under concurrency.
    """

    def __init__(self, strategy: MovingWindowRateLimiter):
        self._strategy = strategy

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._strategy.hit(item, *identifiers, cost=cost)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._strategy.get_window_stats(item, *identifiers)


class JobSlot:
    """One of a key's concurrent-job slots; released once, by ``release()`` or on leaving ``async with``."""

    def __init__(self, counts: Counter, key_id: str):
        self._counts = counts
        self._key_id = key_id
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._counts[self._key_id] -= 1
            if self._counts[self._key_id] <= 0:
                del self._counts[self._key_id]

    async def __aenter__(self) -> JobSlot:
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.release()


class RateLimiter:
    def __init__(self, storage_uri: str, per_hour: dict[str, int], max_concurrent_jobs: int):
        missing = [tier for tier in TIERS if tier not in per_hour]
        if missing:
            raise ValueError(f"no hourly limit for tier(s): {', '.join(missing)}")
        self.storage_uri = storage_uri
        if storage_uri.startswith("memory://"):
            self._storage = MemoryStorage()
            self._strategy = InProcessLimiter(MovingWindowRateLimiter(self._storage))
        else:
            self._storage = storage_from_string(async_storage_uri(storage_uri), wrap_exceptions=True)
            self._strategy = AsyncMovingWindowRateLimiter(self._storage)
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._key_lock_users: Counter = Counter()
        self._items = {tier: RateLimitItemPerHour(amount, namespace="playalter") for tier, amount in per_hour.items()}
        self.max_concurrent_jobs = max_concurrent_jobs
        self._jobs: Counter = Counter()

    @classmethod
    def from_settings(cls, settings) -> RateLimiter:
        config = settings.rate_limit
        per_hour = {tier: getattr(config, f"{tier}_per_hour") for tier in TIERS}
        return cls(config.storage, per_hour, config.max_concurrent_jobs)

    async def hit(self, principal: Principal, cost: int = 1) -> RateStatus:
        """Spend ``cost`` units of the key's hourly budget, all or nothing. ``cost=0`` only reads the state.

        Raises ``limits.errors.StorageError`` when the storage is unreachable.
        """
        if cost < 0:
            raise ValueError("rate-limit cost must be >= 0")
        item = self._items[principal.tier]
        async with self._key_lock(principal.key_id):
            allowed = cost == 0 or await self._strategy.hit(item, "key", principal.key_id, cost=cost)
            return await self._status(principal, allowed)

    async def peek(self, principal: Principal) -> RateStatus:
        """The key's state, spending nothing; ``allowed`` when at least one unit is left."""
        return await self._status(principal, None)

    async def _status(self, principal: Principal, allowed: bool | None) -> RateStatus:
        """The window's state after a spend that was ``allowed`` (None: no spend, allowed while units are left)."""
        item = self._items[principal.tier]
        reset_time, remaining = await self._strategy.get_window_stats(item, "key", principal.key_id)
        if allowed is None:
            allowed = remaining > 0
        retry_after = 0 if allowed else max(1, math.ceil(reset_time - time.time()))
        return RateStatus(allowed, item.amount, max(0, remaining), math.ceil(reset_time), retry_after)

    @asynccontextmanager
    async def _key_lock(self, key_id: str):
        """Spend and read the window of one key without this process's other requests for it in between.

        Without it, concurrent requests all spend before any reads (two storage round trips each), and
        their ``X-RateLimit-Remaining`` all show the count after the last spend. In memory the two
        calls never yield, so they are atomic already; replicas sharing Redis can still interleave.
        """
        lock = self._key_locks.setdefault(key_id, asyncio.Lock())
        self._key_lock_users[key_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._key_lock_users[key_id] -= 1
            if self._key_lock_users[key_id] == 0:  # no request holds or waits for it: forget the key
                del self._key_lock_users[key_id], self._key_locks[key_id]

    async def storage_reachable(self) -> bool:
        """Whether the counter storage answers (a Redis PING; always true in memory)."""
        try:
            return bool(await self._storage.check()) if not isinstance(self._storage, MemoryStorage) else True
        except Exception:  # the storage client's own errors: unreachable, refused, timed out
            return False

    def job_slot(self, principal: Principal) -> JobSlot:
        """Take a concurrent-job slot now, or raise 429 ``too_many_concurrent_jobs``."""
        if self._jobs[principal.key_id] >= self.max_concurrent_jobs:
            raise json_error(
                web.HTTPTooManyRequests, "too_many_concurrent_jobs",
                f"this key already runs {self.max_concurrent_jobs} jobs, the most allowed at once; "
                "wait for one to finish",
                {"Retry-After": str(JOB_RETRY_AFTER_SECONDS)},
            )
        self._jobs[principal.key_id] += 1
        return JobSlot(self._jobs, principal.key_id)

    def jobs_running(self, principal: Principal) -> int:
        return self._jobs[principal.key_id]


LIMITER = web.AppKey("playalter_limiter", RateLimiter)
RATE_STATUS = web.RequestKey("playalter_rate_status", RateStatus)


def rate_cost(cost: Cost):
    """Declare what a route costs against the hourly limit: an int, or ``async fn(request) -> int``."""

    def decorate(handler):
        setattr(handler, RATE_COST_ATTRIBUTE, cost)
        return handler

    return decorate


async def request_cost(request: web.Request) -> Cost:
    """What the middleware charges: an int, or ``AT_ADMISSION``. Unmatched routes and failing cost functions: 0."""
    if request.match_info.http_exception is not None:
        return 0  # 404 / 405: nothing was done
    cost = getattr(request.match_info.handler, RATE_COST_ATTRIBUTE, 1)
    if not callable(cost):
        return cost
    try:
        return max(0, int(await cost(request)))
    except Exception:  # a malformed body: the handler will refuse it, which costs nothing
        log.debug("rate cost function failed for %s; charging nothing", request.path, exc_info=True)
        return 0


@web.middleware
async def ratelimit_middleware(request: web.Request, handler):
    """Charge each authenticated request (``request[PRINCIPAL]``) before its handler; 429 when over.

    An ``AT_ADMISSION`` route is only checked here (429 when no unit is left); its handler calls ``charge``.
    """
    principal = request.get(PRINCIPAL)
    if principal is None:
        return await handler(request)
    limiter = request.app[LIMITER]
    cost = await request_cost(request)
    if cost == AT_ADMISSION:
        status = await _reach(limiter.peek(principal))
        _record(request, principal, status, 1)
    else:
        await charge(request, cost)
    return await handler(request)


async def charge(request: web.Request, cost: int) -> None:
    """Spend ``cost`` units of the caller's hourly budget for work being admitted now, all or nothing.

    Raises 429 ``rate_limit_exceeded`` (or 400 ``cost_exceeds_limit``) when the budget does not allow it,
    503 ``rate_limit_unavailable`` when the storage is unreachable; a request without a principal is free.
    """
    principal = request.get(PRINCIPAL)
    if principal is None:
        return
    limiter = request.app[LIMITER]
    status = await _reach(limiter.hit(principal, cost))
    _record(request, principal, status, cost)


async def _reach(query: Awaitable[RateStatus]) -> RateStatus:
    try:
        status = await query
    except StorageError as error:  # logged once while the outage lasts, not once per request
        OUTAGES.failed(RATE_LIMIT_STORAGE, RATE_LIMIT_STORAGE, error)
        raise json_error(web.HTTPServiceUnavailable, "rate_limit_unavailable",
                         "rate limiting is temporarily unavailable; retry shortly",
                         {"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)}) from None
    OUTAGES.recovered(RATE_LIMIT_STORAGE)
    return status


def _record(request: web.Request, principal: Principal, status: RateStatus, cost: int) -> None:
    """Keep ``status`` for the response headers; raise the refusal when it was not allowed."""
    request[RATE_STATUS] = status
    if status.allowed:
        return
    security_event("rate_limited", key_id=principal.key_id, tier=principal.tier, limit=status.limit,
                   cost=cost, method=request.method, path=request.path, remote=request.remote)
    if cost > status.limit:  # waiting cannot help: this is the request's fault, not the timing's
        raise json_error(web.HTTPBadRequest, "cost_exceeds_limit",
                         f"this request costs {cost} units, more than your hourly limit of {status.limit}; "
                         "split it into smaller requests")
    raise json_error(web.HTTPTooManyRequests, "rate_limit_exceeded",
                     f"rate limit of {status.limit} per hour exceeded ({status.remaining} left, this request "
                     f"costs {cost}); retry in {status.retry_after} s",
                     {"Retry-After": str(status.retry_after)})


async def add_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: the X-RateLimit-* headers on every response to an authenticated request."""
    status = request.get(RATE_STATUS)
    if status is not None:
        response.headers.update(status.headers())
