"""The per-user folder for PLAYALTER's state (keys, jobs, audit log, secrets) and fetched models.

``$PLAYALTER_DATA_HOME`` when set; else the platform's convention:

- Linux and other Unix: ``$XDG_DATA_HOME/playalter`` (an absolute XDG_DATA_HOME only, as the
  XDG Base Directory spec says), else ``~/.local/share/playalter``;
- macOS: ``~/Library/Application Support/playalter``;
- Windows: ``%LOCALAPPDATA%\\playalter``, else ``~\\AppData\\Local\\playalter``.

Nothing depends on the working directory unless a setting names a relative path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping

DATA_HOME_ENV = "PLAYALTER_DATA_HOME"
APP_NAME = "playalter"


def user_data_dir(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if environ.get(DATA_HOME_ENV):
        return Path(environ[DATA_HOME_ENV]).expanduser()
    home = Path(environ["HOME"]) if environ.get("HOME") and platform != "win32" else Path.home()
    if platform == "win32":
        base = Path(environ["LOCALAPPDATA"]) if environ.get("LOCALAPPDATA") else home / "AppData" / "Local"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / APP_NAME


def user_models_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where models are fetched by default: ``<user data folder>/models``."""
    return user_data_dir(environ) / "models"
