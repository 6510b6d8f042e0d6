"""Typed keys of the objects the application holds (``app[KEY]``), shared by its modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ...pipelines.config import Section

if TYPE_CHECKING:
    from .auth import SecuritySetup
    from .dispatcher import Dispatcher
    from .metrics import Metrics
    from .workflows import WorkflowCatalog

SETTINGS = web.AppKey("settings", Section)
DISPATCHER = web.AppKey("dispatcher", "Dispatcher")
METRICS = web.AppKey("metrics", "Metrics")
WORKFLOWS = web.AppKey("workflows", "WorkflowCatalog")
SECURITY = web.AppKey("security", "SecuritySetup")  # what setup_security built, the first admin key included
