"""The key of the settings the application runs with (``app[SETTINGS]``), read by handlers of every part.

The other objects the application holds have their keys next to their types (``dispatcher.DISPATCHER``,
``workflows.WORKFLOWS``, ``metrics.METRICS``, ``auth.SECURITY``), so this module depends on nothing of the
service.
"""

from __future__ import annotations

from aiohttp import web

from ...pipelines.core.config import Section

SETTINGS = web.AppKey("settings", Section)
