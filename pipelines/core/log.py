"""Logging for a PLAYALTER process: readable console lines, optional JSON-lines file.

Library modules only do ``logger = logging.getLogger(__name__)``; nothing prints.
``setup_logging`` is called once by the processes PLAYALTER owns (the ``playalter``
command, the server); inside ComfyUI the host's logging setup is left alone.
"""

from __future__ import annotations

import json
import logging
import sys
import time

CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_MARK = "_playalter_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, plus ``extra`` fields."""

    _standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in self._standard and not name.startswith("_"):
                payload[name] = value
        if record.exc_info or record.exc_text:
            payload["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (it may be replaced after setup)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(level: str | None = None, json_file: str | None = None) -> None:
    """Configure the root logger: console on stderr, plus JSON lines in ``json_file`` when given.

    Arguments override settings ``logging.level`` / ``logging.json_file``. Calling it again
    replaces the handlers it installed before (never anyone else's).
    """
    from .config import ConfigError, settings

    config = settings().logging
    level = (level or config.level).upper()
    if level not in _LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(_LEVELS)}, got {level!r}")
    root = logging.getLogger()
    for handler in [handler for handler in root.handlers if getattr(handler, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    console = _StderrHandler()
    console.setFormatter(logging.Formatter(CONSOLE_FORMAT, "%H:%M:%S"))
    handlers: list[logging.Handler] = [console]
    path = json_file if json_file is not None else config.json_file
    if path:
        try:
            file_handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"cannot open the JSON log file {path}: {error.strerror}") from None
        file_handler.setFormatter(JsonFormatter())
        handlers.append(file_handler)
    for handler in handlers:
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
