"""Audit rows for HTTP requests: ``audit_middleware`` appends one row per authenticated request to the audit
log (``db.audit_log.AuditLog``, ``request.app[AUDIT]``) once its handler finishes, also for 4xx/5xx and 429.

Handlers enrich the row through ``request[AUDIT_NOTE]`` (an ``AuditNote``):
``note.add_input(image_bytes)``, ``note.parameters.update(mask_type=...,
strength=...)``, ``note.operation = "privacy.mask"``. Background work (batch
jobs) appends its own rows with ``await audit.record(...)`` on the loop or
``audit.append(...)`` from a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..errors import CLIENT_CLOSED_REQUEST
from ..security.context import PRINCIPAL
from ..storage.audit_log import AuditLog


@dataclass
class AuditNote:
    """What a handler adds to its request's audit row."""

    operation: str
    inputs: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None

    def add_input(self, data: bytes) -> None:
        self.inputs.append(hashlib.sha256(data).hexdigest())


AUDIT = web.AppKey("playalter_audit", AuditLog)
AUDIT_NOTE = web.RequestKey("playalter_audit_note", AuditNote)


def operation_name(request: web.Request) -> str:
    """The route's name when it has one, else ``METHOD /path/{pattern}``."""
    route = request.match_info.route
    if route.name:
        return route.name
    canonical = route.resource.canonical if route.resource is not None else request.path
    return f"{request.method} {canonical}"


def _error_code(status: int, body: Any) -> str:
    if isinstance(body, (bytes, bytearray)):
        try:
            return str(json.loads(body)["error"]["code"])
        except (ValueError, KeyError, TypeError):
            pass
    return f"http_{status}"


@web.middleware
async def audit_middleware(request: web.Request, handler):
    """Append one audit row per authenticated request, whatever its outcome."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        return await handler(request)
    note = AuditNote(operation_name(request), parameters=dict(request.query))
    request[AUDIT_NOTE] = note
    started_at, started = time.time(), time.perf_counter()
    status, outcome = 500, "internal_error"
    try:
        response = await handler(request)
        status = response.status
        outcome = "ok" if status < 400 else _error_code(status, getattr(response, "body", None))
        return response
    except web.HTTPException as error:
        status = error.status
        outcome = "ok" if status < 400 else _error_code(status, error.body)
        raise
    except asyncio.CancelledError:
        status, outcome = CLIENT_CLOSED_REQUEST, "client_closed_request"
        raise
    finally:
        row = dict(key_id=principal.key_id, operation=note.operation, inputs=note.inputs,
                   parameters=note.parameters, outcome=note.outcome or outcome, status=status,
                   duration_ms=(time.perf_counter() - started) * 1000.0, at=started_at)
        committed = request.app[AUDIT].enqueue(**row)
        if status != CLIENT_CLOSED_REQUEST:  # a cancelled request cannot wait: its row goes with the next commit
            await committed
