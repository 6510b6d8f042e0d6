"""Faults of the machine under the service, told apart from bugs, answered as what they are and logged once.

Three kinds, each answered in the API's error shape, never as a 500:

- ``storage_full``: the disk under the data folder is full (``ENOSPC``, ``EDQUOT``, SQLite's "database or disk is
  full", Postgres' ``disk_full``): 507 ``insufficient_storage``;
- ``database_unavailable``: SQLite locked past its busy timeout, unreadable or damaged; Postgres stopped,
  restarting or out of pooled connections: 503 ``database_unavailable`` with ``Retry-After``;
- ``rate_limit_storage``: Redis does not answer (``security/ratelimit.py`` answers 503 ``rate_limit_unavailable``).

``OUTAGES`` logs one WARNING when something the service needs goes out (the disk, one database, Redis), without a
traceback, and one INFO when it is back, with how long it was out and how many failures it caused: the night's log
shows two lines per outage, not one traceback per request. It is back when the code that found it out sees it work
again: a transaction of that database commits, the free-space check passes, Redis answers. A failure within
``REOPEN_SECONDS`` of that continues the same outage without a new warning: after a Postgres restart the pools'
connections come back one by one, and the first success is not the last failure.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

STORAGE_FULL = "storage_full"
DATABASE_UNAVAILABLE = "database_unavailable"
RATE_LIMIT_STORAGE = "rate_limit_storage"
RETRY_AFTER_SECONDS = 5
DISK = "disk"
REOPEN_SECONDS = 30.0  # a failure this soon after an outage ended continues it (pools reconnect one by one)
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_POSTGRES_DISK_FULL = "53100"
_SQLITE_OUTAGES = ("locked", "unable to open", "disk i/o error", "readonly database")


def fault_of(error: BaseException) -> str | None:
    """``STORAGE_FULL`` or ``DATABASE_UNAVAILABLE`` when ``error`` (or what caused it) is one; else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        kind = _own_fault(error)
        if kind is not None:
            return kind
        error = error.__cause__ or error.__context__
    return None


def _own_fault(error: BaseException) -> str | None:
    if isinstance(error, OSError) and error.errno in _NO_SPACE:
        return STORAGE_FULL
    if isinstance(error, sqlite3.OperationalError):  # also raised for bugs ("no such table"): told apart by text
        text = str(error).lower()
        if "disk is full" in text:
            return STORAGE_FULL
        return DATABASE_UNAVAILABLE if any(outage in text for outage in _SQLITE_OUTAGES) else None
    if type(error) is sqlite3.DatabaseError:  # "file is not a database", "database disk image is malformed"
        return DATABASE_UNAVAILABLE
    psycopg = sys.modules.get("psycopg")  # a psycopg error can only come from an imported psycopg
    if psycopg is not None and isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
        return STORAGE_FULL if getattr(error, "sqlstate", None) == _POSTGRES_DISK_FULL else DATABASE_UNAVAILABLE
    return None


@dataclass(frozen=True)
class FaultAnswer:
    """What a request that met a fault is answered (``errors.error_middleware`` writes it in the error shape)."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=lambda: {"Retry-After": str(RETRY_AFTER_SECONDS)})


ANSWERS = {
    STORAGE_FULL: FaultAnswer(507, "insufficient_storage", "the server's disk is full; retry once space has "
                              "been freed"),
    DATABASE_UNAVAILABLE: FaultAnswer(503, "database_unavailable",
                                      "the service's database is unavailable; retry shortly"),
}


def answer_for_code(code: str) -> FaultAnswer | None:
    """The fault answer whose error code is ``code`` (an item that failed on a fault), else None."""
    return next((answer for answer in ANSWERS.values() if answer.code == code), None)


def fault_answer(error: BaseException) -> FaultAnswer | None:
    """The answer to a request that failed on ``error`` when it is a fault (a full disk noted in ``OUTAGES``); else
    None."""
    kind = fault_of(error)
    if kind is None:
        return None
    if kind == STORAGE_FULL:  # a database notes its own outages (``Database.transaction``)
        OUTAGES.failed(kind, DISK, error)
    return ANSWERS[kind]


def fault_description(error: BaseException) -> dict[str, str] | None:
    """An item's error (``{"code", "message"}``) when its run failed on a fault; else None."""
    answer = fault_answer(error)
    return None if answer is None else {"code": answer.code, "message": answer.message}


class Outages:
    """The outages going on now, by what is out (``source``: "disk", "database jobs.sqlite3", "database postgres",
    "rate-limit storage"): one WARNING as each begins, one INFO as it ends. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ongoing: dict[str, list] = {}  # source -> [started (monotonic), failures]
        self._ended: dict[str, tuple[float, list]] = {}  # source -> (when it ended, its [started, failures])

    def failed(self, kind: str, source: str, error: BaseException) -> None:
        with self._lock:
            ongoing = self._ongoing.get(source)
            if ongoing is not None:
                ongoing[1] += 1
                return
            ended_at, previous = self._ended.pop(source, (float("-inf"), None))
            if time.monotonic() - ended_at < REOPEN_SECONDS:  # the same outage, not a new one: no new warning
                previous[1] += 1
                self._ongoing[source] = previous
                return
            self._ongoing[source] = [time.monotonic(), 1]
        log.warning("%s: %s is out (%s: %s); what needs it is refused until it is back", kind, source,
                    type(error).__name__, _first_line(error),
                    extra={"event": "outage_started", "fault": kind, "source": source})

    def recovered(self, source: str) -> None:
        if source not in self._ongoing:  # unlocked fast path: the common case, nothing going on
            return
        with self._lock:
            ongoing = self._ongoing.pop(source, None)
            if ongoing is not None:
                self._ended[source] = (time.monotonic(), ongoing)
        if ongoing is not None:
            log.info("%s is back after %.1f s and %d failure(s)", source, time.monotonic() - ongoing[0], ongoing[1],
                     extra={"event": "outage_ended", "source": source})


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""


OUTAGES = Outages()
