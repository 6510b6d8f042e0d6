"""Logging, set up once per process: readable console lines, optional JSON-lines file.

Modules use ``logging.getLogger(__name__)``; nothing prints.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_configured = False


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus any ``extra`` fields."""

    _standard = set(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in self._standard and not name.startswith("_"):
                payload[name] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def setup_logging(level: str | None = None, json_file: str | None = None) -> None:
    """Configure the ``playalter`` logger tree once; later calls are no-ops."""
    global _configured
    if _configured:
        return
    from .config import settings

    config = settings().logging
    root = logging.getLogger(__package__.rsplit(".", 1)[0] if "." in __package__ else __package__)
    root.setLevel((level or config.level).upper())
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(console)
    path = json_file or config.json_file
    if path:
        file_handler = logging.FileHandler(path, encoding="utf-8")
        file_handler.setFormatter(JsonFormatter())
        root.addHandler(file_handler)
    root.propagate = False
    _configured = True
