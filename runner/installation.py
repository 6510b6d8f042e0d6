"""The whole installation as facts: the engine's (``pipelines/runtime/installation.py``), the PLAYALTER
version and which of the runner's extras are installed.

``playalter doctor`` prints these facts and ``/api/services/status`` carries them under ``installation``.
An extra counts as installed when every module it provides can be found; nothing is imported to check.
"""

from __future__ import annotations

import importlib.util

from .. import __version__
from ..pipelines.runtime import installation

# The modules each extra provides, as imported by runner/server, runner/engine/remote.py and (identity)
# pipelines/engine/dlib_descriptor.py.
EXTRAS = {
    "server": ("aiohttp", "jwt", "limits", "coredis", "prometheus_client", "jsonschema", "websocket"),
    "scale": ("psycopg", "psycopg_pool", "procrastinate"),
    "identity": ("dlib",),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be found."""
    return [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]


def extras() -> dict:
    """Per extra: ``installed``, and the ``missing`` modules."""
    found = {}
    for extra in EXTRAS:
        missing = missing_modules(extra)
        found[extra] = {"installed": not missing, "missing": missing}
    return found


def facts() -> dict:
    """The engine's facts with the version first and the extras last."""
    return {"playalter": __version__, **installation.facts(), "extras": extras()}
