"""Settings: defaults < ``config.json`` < environment variables.

Environment variables are named ``PLAYALTER__SECTION__KEY`` (or
``PLAYALTER__KEY`` for top-level ones), e.g.
``PLAYALTER__SECURITY__MAX_FILE_SIZE_MB=10`` or ``PLAYALTER__MODELS__AUTO_FETCH=false``.
Every value is checked against the type of its default; a bad value is a
``ConfigError`` naming the key and where the value came from.

This module is the one loader. It declares the engine's own settings; a higher
layer adds its own with ``add_settings``, and from then on they are loaded,
checked and shown with the engine's. A name belongs to one layer only.

``paths.data_dir`` left empty (the default) is the per-user folder
(``user_dirs.user_data_dir``: ``~/.local/share/playalter`` on Linux), so
saved state never depends on the working directory; a relative value
(``"data"``) is taken relative to the working directory, as configured.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

from .errors import PlayalterError
from .user_dirs import user_data_dir

ENV_PREFIX = "PLAYALTER__"
CONFIG_FILE_ENV = "PLAYALTER_CONFIG"

DEFAULTS: dict[str, Any] = {
    "paths": {
        "models_dir": "",
        "input_dir": "input",
        "output_dir": "output",
        "data_dir": "",  # empty: the per-user folder (user_dirs.user_data_dir)
    },
    "detection": {
        "backend": "auto",
        "threshold": 0.5,
        "max_input_side": 1280,
    },
    "security": {  # the checks of every decoded image
        "max_file_size_mb": 10.0,
        "min_image_side": 64,
        "max_image_side": 4096,
    },
    "swap": {
        "identities_dir": "",
    },
    "models": {
        "auto_fetch": True,  # fetch licence-clean models (face_mesh, iris) on first use
    },
    "logging": {
        "level": "INFO",
        "json_file": "",
    },
}
"""Every setting known in this process: the engine's, plus those ``add_settings`` added."""

_SECRET_MARKERS = ("secret", "password", "token", "api_key", "private_key")


class ConfigError(PlayalterError):
    code = "invalid_config"


class Section:
    """Read-only attribute access over one level of settings."""

    def __init__(self, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._values[name]
        except KeyError:
            raise AttributeError(name) from None
        return Section(value) if isinstance(value, dict) else value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only")

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._values)


_EXPECTED = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string"}


def _coerce(value: Any, default: Any, key: str, origin: str) -> Any:
    expected = type(default)
    if expected is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
            return False
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
    elif expected is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
        if number is not None and math.isfinite(number):
            return number
    elif expected is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"setting '{key}' from {origin}: expected {_EXPECTED[expected]}, got {value!r}")


def _describe_origin(key: str, origin: str) -> str:
    if origin == "environment":
        return f"environment variable {ENV_PREFIX}{key.upper().replace('.', '__')}"
    return origin


def _merge(target: dict, overrides: Mapping[str, Any], prefix: str, origin: str) -> None:
    for name, value in overrides.items():
        key = f"{prefix}{name}"
        if name not in target:
            raise ConfigError(
                f"unknown setting '{key}' in {_describe_origin(key, origin)}; "
                f"known {'in ' + prefix.rstrip('.') if prefix else 'top-level'}: {', '.join(sorted(target))}"
            )
        if isinstance(target[name], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"setting '{key}' from {_describe_origin(key, origin)} must be an object")
            _merge(target[name], value, f"{key}.", origin)
        else:
            target[name] = _coerce(value, target[name], key, _describe_origin(key, origin))


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [part.lower() for part in name[len(ENV_PREFIX):].split("__")]
        node = overrides
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return overrides


def _check_engine_ranges(values: dict[str, Any]) -> None:
    security = values["security"]
    if security["max_file_size_mb"] <= 0:
        raise ConfigError("security.max_file_size_mb must be positive")
    if not 1 <= security["min_image_side"] <= security["max_image_side"]:
        raise ConfigError("security.min_image_side must be >= 1 and <= security.max_image_side")
    if not 0.0 < values["detection"]["threshold"] < 1.0:
        raise ConfigError("detection.threshold must be between 0 and 1")
    if values["detection"]["backend"] not in ("auto", "centerface", "buffalo_l"):
        raise ConfigError("detection.backend must be one of: auto, centerface, buffalo_l")
    if values["logging"]["level"].upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("logging.level must be DEBUG, INFO, WARNING or ERROR")


_RANGE_CHECKS: list[Callable[[dict[str, Any]], None]] = [_check_engine_ranges]


def add_settings(defaults: Mapping[str, Any], check_ranges: Callable[[dict[str, Any]], None]) -> None:
    """Add a higher layer's settings (new sections, or new keys in existing ones) and the check of their
    values to every later load. A name that is already taken raises ``ValueError``."""
    _add_defaults(DEFAULTS, defaults, "")
    _RANGE_CHECKS.append(check_ranges)
    reset_settings()


def _add_defaults(target: dict[str, Any], additions: Mapping[str, Any], prefix: str) -> None:
    for name, value in additions.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping) and isinstance(target.get(name), dict):
            _add_defaults(target[name], value, f"{key}.")
        elif name in target:
            raise ValueError(f"setting '{key}' is already defined")
        else:
            target[name] = copy.deepcopy(value)


def load_settings(config_path: str | os.PathLike | None = None,
                  environ: Mapping[str, str] | None = None) -> Section:
    """Build the effective settings. ``config_path`` defaults to $PLAYALTER_CONFIG, then ./config.json if present."""
    environ = os.environ if environ is None else environ
    values = copy.deepcopy(DEFAULTS)
    path = config_path or environ.get(CONFIG_FILE_ENV) or ("config.json" if Path("config.json").is_file() else None)
    if path:
        try:
            file_values = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except json.JSONDecodeError as error:
            raise ConfigError(f"config file {path} is not valid JSON: {error}") from None
        if not isinstance(file_values, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
        _merge(values, file_values, "", str(path))
    _merge(values, _env_overrides(environ), "", "environment")
    for check_ranges in _RANGE_CHECKS:
        check_ranges(values)
    values["paths"]["data_dir"] = values["paths"]["data_dir"] or str(user_data_dir(environ))
    return Section(values)


_settings: Section | None = None


def settings() -> Section:
    """The process-wide settings, loaded on first use."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def reset_settings() -> None:
    """Forget the cached settings (tests, or after the environment changed)."""
    global _settings
    _settings = None


def _mask_url_credentials(url: str) -> str:
    """``redis://user:pw@host:6379/0`` -> ``redis://***@host:6379/0``; other strings unchanged."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def masked(values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` with secrets replaced by '***' (for display)."""
    result: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            result[name] = masked(value)
        elif value and any(marker in name for marker in _SECRET_MARKERS):
            result[name] = "***"
        elif isinstance(value, str) and "://" in value:
            result[name] = _mask_url_credentials(value)
        else:
            result[name] = value
    return result
