"""The service's four structured logs and the security event helper.

Loggers (all under the package's root logger, so ``setup_logging`` levels apply):

- general:      every ``playalter.*`` record (modules use ``logging.getLogger(__name__)``)
- errors:       the same records at ERROR and above
- performance:  ``playalter.performance``: one record per timed operation, e.g.
                ``performance_log.info("request", extra={"operation": ..., "duration_ms": ...})``
- security:     ``playalter.security``: auth failures and rate-limit hits, through ``security_event``

``setup_log_files(log_dir)`` writes each of them as JSON lines (``general.jsonl``,
``errors.jsonl``, ``performance.jsonl``, ``security.jsonl``). Every handler it
installs, and the security logger itself, pass records through
``SecretRedactor``: API keys and JWTs are replaced by ``[redacted]`` wherever
they appear, as a second line of defence. The first line is simply never
passing a key, token, password or image bytes to a logger: log the key id.
"""

from __future__ import annotations

import logging
import re
from logging.handlers import WatchedFileHandler
from pathlib import Path

from ...pipelines.log import JsonFormatter

ROOT_LOGGER = __name__.split(".")[0]
SECURITY_LOGGER = f"{ROOT_LOGGER}.security"
PERFORMANCE_LOGGER = f"{ROOT_LOGGER}.performance"

security_log = logging.getLogger(SECURITY_LOGGER)
performance_log = logging.getLogger(PERFORMANCE_LOGGER)

_SECRET_PATTERN = re.compile(
    r"pa_live_[A-Za-z0-9_-]+"                          # API keys
    r"|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # JWTs (base64url JSON header)
)
REDACTED = "[redacted]"


class SecretRedactor(logging.Filter):
    """Replaces API keys and JWTs in a record's message and string fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET_PATTERN.search(message):
            record.msg, record.args = _SECRET_PATTERN.sub(REDACTED, message), None
        for name, value in vars(record).items():
            if isinstance(value, str) and name != "msg" and _SECRET_PATTERN.search(value):
                setattr(record, name, _SECRET_PATTERN.sub(REDACTED, value))
        return True


security_log.addFilter(SecretRedactor())


def security_event(event: str, level: int = logging.WARNING, **fields) -> None:
    """Log one security event (``auth_failed``, ``rate_limited``...) with structured fields.

    Pass identifiers only (key id, path, client address, reason), never the credential.
    """
    security_log.log(level, event, extra={"event": event, **fields})


def setup_log_files(log_dir: str | Path) -> None:
    """Write the general, errors, performance and security logs as JSON lines under ``log_dir``."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    targets = [
        (ROOT_LOGGER, "general.jsonl", logging.NOTSET),
        (ROOT_LOGGER, "errors.jsonl", logging.ERROR),
        (PERFORMANCE_LOGGER, "performance.jsonl", logging.NOTSET),
        (SECURITY_LOGGER, "security.jsonl", logging.NOTSET),
    ]
    for logger_name, file_name, level in targets:
        logger = logging.getLogger(logger_name)
        path = str((log_dir / file_name).resolve())
        if any(getattr(handler, "baseFilename", None) == path for handler in logger.handlers):
            continue
        handler = WatchedFileHandler(path, encoding="utf-8")
        handler.setLevel(level)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(SecretRedactor())
        logger.addHandler(handler)
