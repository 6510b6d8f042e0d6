"""The service's four structured logs, secret redaction for every log record, and the security event helper.

Files written by ``setup_log_files(log_dir)`` (``create_app`` calls it with ``logging.dir``, default
``<data_dir>/logs``), each as JSON lines:

- ``general.jsonl``:     every ``playalter.*`` record (modules use ``logging.getLogger(__name__)``)
- ``errors.jsonl``:      ERROR and above from any logger: ours, ``aiohttp.*``, ``asyncio``...
- ``performance.jsonl``: ``playalter.performance``: one record per request or timed operation, e.g.
                         ``performance_log.info("request", extra={"operation": ..., "duration_ms": ...})``
- ``security.jsonl``:    ``playalter.security``: auth failures, rate-limit hits, refused or dropped
                         connections, through ``security_event``

``quiet_outage_noise`` (called by a Postgres ``Database``) keeps a database outage to the one warning
``faults.OUTAGES`` writes, instead of a line per reconnect attempt and a traceback per queue-worker task.

Redaction: importing this module installs a log record factory that replaces API keys, JWTs and the
value of credential headers by ``[redacted]`` in every record any logger creates (message, arguments,
string fields, exception text), so no handler (console, these files, ``logging.json_file``) can write
one, whoever logged it: aiohttp quotes raw request bytes in its parser errors. That is the second line
of defence; the first is never passing a key, token, password or image bytes to a logger: log the key id.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from logging.handlers import WatchedFileHandler
from pathlib import Path

from ...pipelines.core.log import JsonFormatter
from .faults import DATABASE_UNAVAILABLE, fault_of

ROOT_LOGGER = __name__.split(".")[0]
SECURITY_LOGGER = f"{ROOT_LOGGER}.security"
PERFORMANCE_LOGGER = f"{ROOT_LOGGER}.performance"

security_log = logging.getLogger(SECURITY_LOGGER)
performance_log = logging.getLogger(PERFORMANCE_LOGGER)

_SECRET_PATTERN = re.compile(
    r"pa_live_[A-Za-z0-9_-]*"                                   # API keys, also cut short
    r"|eyJ[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*){0,2}"           # JWTs (base64url JSON header), also cut short
    r"|(?<=Bearer )[^\s'\"\\,]+"                                # whatever follows Bearer
    r"|(?i:(?<=x-api-key: )|(?<=x-api-key:))[^\s'\"\\,]+"       # or an X-API-Key header
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every API key, JWT and credential header value replaced by ``[redacted]``."""
    return _SECRET_PATTERN.sub(REDACTED, text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place: message (arguments merged in), string fields, exception and stack text."""
    message = record.getMessage()
    if _SECRET_PATTERN.search(message):
        record.msg, record.args = redact(message), None
    for name, value in vars(record).items():
        if isinstance(value, str) and name != "msg" and _SECRET_PATTERN.search(value):
            setattr(record, name, redact(value))
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    return record


def _redacting_factory(previous):
    def factory(*args, **kwargs) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    factory.redacts = True
    return factory


def install_redaction() -> None:
    """Make every log record of the process pass through ``redact_record`` (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "redacts", False):
        logging.setLogRecordFactory(_redacting_factory(current))


install_redaction()


def security_event(event: str, level: int = logging.WARNING, **fields) -> None:
    """Log one security event (``auth_failed``, ``rate_limited``...) with structured fields.

    Pass identifiers only (key id, path, client address, reason), never the credential.
    """
    security_log.log(level, event, extra={"event": event, **fields})


class _LostDatabaseQuiet(logging.Filter):
    """A record of a task that met a lost database becomes a one-line warning: the outage is logged once already
    (``faults.OUTAGES``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and fault_of(error) == DATABASE_UNAVAILABLE:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def quiet_outage_noise() -> None:
    """A Postgres outage logged once, not by every library on the way (idempotent): psycopg's pool warns at each
    reconnect attempt (errors still pass), and procrastinate logs each of its worker's tasks that met the lost
    database as an ERROR with a traceback."""
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    for name in ("procrastinate.utils", "procrastinate.worker"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _LostDatabaseQuiet) for existing in logger.filters):
            logger.addFilter(_LostDatabaseQuiet())


LOG_FILES = (  # logger, file, lowest level
    (ROOT_LOGGER, "general.jsonl", logging.NOTSET),
    ("", "errors.jsonl", logging.ERROR),
    (PERFORMANCE_LOGGER, "performance.jsonl", logging.NOTSET),
    (SECURITY_LOGGER, "security.jsonl", logging.NOTSET),
)


class LogFile(WatchedFileHandler):
    """A JSON-lines log file that never fails or stalls the code that logs: a record that cannot be written (a full
    disk) is dropped, said once on stderr until writing works again, and the file is reopened for the next."""

    def __init__(self, path: str):
        super().__init__(path, encoding="utf-8")
        self.dropping = False
        self._failure: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self._failure = None
        super().emit(record)  # a failure goes to handleError
        name = Path(self.baseFilename).name
        if self._failure is not None and not self.dropping:
            sys.stderr.write(f"playalter: cannot write {name} ({self._failure}); its records are dropped until it can\n")
        elif self._failure is None and self.dropping:
            sys.stderr.write(f"playalter: writing {name} works again\n")
        self.dropping = self._failure is not None

    def handleError(self, record: logging.LogRecord) -> None:
        self._failure = sys.exc_info()[1]
        if self.stream is not None:
            try:
                self.stream.close()  # drops the unwritten buffer; the next record reopens the file
            except OSError:
                pass
            self.stream = None


class LogFiles:
    """The handlers ``setup_log_files`` installed; ``close()`` removes them (an app's cleanup does)."""

    def __init__(self, installed: list[tuple[logging.Logger, logging.Handler]]):
        self._installed = installed

    def close(self) -> None:
        for logger, handler in self._installed:
            logger.removeHandler(handler)
            handler.close()
        self._installed = []


def setup_log_files(log_dir: str | Path) -> LogFiles:
    """Write the general, errors, performance and security logs as JSON lines under ``log_dir`` (mode 0700)."""
    log_dir = Path(log_dir)
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    installed = []
    for logger_name, file_name, level in LOG_FILES:
        logger = logging.getLogger(logger_name)
        path = str((log_dir / file_name).resolve())
        if any(getattr(handler, "baseFilename", None) == path for handler in logger.handlers):
            continue
        handler = LogFile(path)
        os.chmod(path, 0o600)
        handler.setLevel(level)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        installed.append((logger, handler))
    return LogFiles(installed)
