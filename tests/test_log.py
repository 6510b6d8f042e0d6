"""Logging: readable console lines, JSON-lines file, one logger per module, no print() in library code."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest

from playalter.pipelines.core import config
from playalter.pipelines.core.config import ConfigError
from playalter.pipelines.core.log import setup_logging

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config.reset_settings()
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    config.reset_settings()


def test_json_file_gets_one_object_per_line(tmp_path):
    path = tmp_path / "log.jsonl"
    setup_logging("INFO", str(path))
    logger = logging.getLogger("playalter.pipelines.example")
    logger.info("detected %d faces", 6, extra={"job_id": "j-1", "elapsed_ms": 12.5})
    logger.debug("hidden at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["level"] == "INFO" and first["logger"] == "playalter.pipelines.example"
    assert first["message"] == "detected 6 faces" and first["job_id"] == "j-1" and first["elapsed_ms"] == 12.5
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]


def test_console_is_human_readable_and_setup_is_repeatable(capfd, tmp_path):
    setup_logging("WARNING")
    setup_logging("WARNING")  # replaces its own handlers: one line per record, not two
    logging.getLogger("playalter.runner.x").warning("disk almost full")
    logging.getLogger("playalter.runner.x").info("not shown")
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith("WARNING playalter.runner.x: disk almost full")


def test_level_and_file_come_from_settings(monkeypatch, tmp_path):
    path = tmp_path / "from-settings.jsonl"
    monkeypatch.setenv("PLAYALTER__LOGGING__LEVEL", "DEBUG")
    monkeypatch.setenv("PLAYALTER__LOGGING__JSON_FILE", str(path))
    config.reset_settings()
    setup_logging()
    logging.getLogger("playalter.test").debug("debug line")
    assert json.loads(path.read_text(encoding="utf-8"))["message"] == "debug line"


def test_bad_level_or_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="log level must be one of"):
        setup_logging("chatty")
    with pytest.raises(ConfigError, match="cannot open the JSON log file"):
        setup_logging("INFO", str(tmp_path / "absent-dir" / "log.jsonl"))


def _library_sources() -> list[Path]:
    return [path for folder in ("pipelines", "nodes", "runner") for path in (REPO / folder).rglob("*.py")]


def test_library_code_never_prints():
    offenders = []
    for path in _library_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"print() in library code: {offenders}"


# The one module allowed to name loggers itself: it defines the service's log
# channels (security, performance) and attaches their JSON files.
LOG_CHANNEL_MODULE = REPO / "runner" / "server" / "logs.py"


def test_loggers_are_named_after_their_module():
    offenders = []
    for path in _library_sources():
        if path == LOG_CHANNEL_MODULE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "getLogger"
                    and node.args  # getLogger() is the root logger: only setup_logging uses it
                    and not (isinstance(node.args[0], ast.Name) and node.args[0].id == "__name__")):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"use logging.getLogger(__name__): {offenders}"
