"""The package's optional extras, and the refusal of a command whose extra is not installed.

The node pack installs only what the nodes use. The HTTP service (``serve``, ``keys``, ``audit``, ``db``)
and runs on a ComfyUI server (``run --remote``) need the ``server`` extra; Postgres and the job queue
(``worker``, any command with a ``postgresql://`` ``database.url``) need ``scale``. A command calls
``require(extra)`` before it imports any of them, so a missing package is one line naming the extra and
the exact pip command for the Python that runs ``playalter``, not a traceback from deep inside.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from ...pipelines.runtime.packages import pip_command
from ..installation import missing_modules

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


class MissingExtra(Exception):
    """A command needs ``extra`` and ``module`` cannot be imported; ``str()`` is the whole message."""

    def __init__(self, extra: str, module: str):
        self.extra, self.module = extra, module
        super().__init__(
            f"this command needs the '{extra}' extra (the Python module '{module}' is not installed); "
            f"install it with:\n  {install_command(extra)}"
        )


def require(extra: str) -> None:
    """Raise ``MissingExtra`` when one of the extra's modules cannot be imported."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(extra, missing[0])


def install_command(extra: str) -> str:
    """The pip command that installs the extra's packages into the Python running now."""
    packages = extra_requirements(extra) or [f"playalter[{extra}]"]
    return pip_command("install", *packages)


def extra_requirements(extra: str) -> list[str]:
    """The extra's requirements: from pyproject.toml beside the package (a clone, an editable install, a
    ComfyUI custom_nodes folder), else from the installed distribution's metadata; empty when neither has it."""
    if PYPROJECT.is_file():
        with PYPROJECT.open("rb") as file:
            extras = tomllib.load(file).get("project", {}).get("optional-dependencies", {})
        return list(extras.get(extra, []))
    try:
        requirements = importlib.metadata.requires("playalter") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    return [requirement.split(";")[0].strip() for requirement in requirements if marker.search(requirement)]
