"""JSON error responses: every error the service returns is ``{"error": {"code", "message"}}``.

The exceptions are aiohttp ``HTTPException`` subclasses, so a handler or a
middleware can ``raise`` them and aiohttp sends them as ordinary responses.
"""

from __future__ import annotations

import json
from typing import Mapping

from aiohttp import web


def error_body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def json_error(exception_class: type[web.HTTPException], code: str, message: str,
               headers: Mapping[str, str] | None = None) -> web.HTTPException:
    """An ``exception_class`` instance (e.g. ``web.HTTPForbidden``) carrying the JSON error body."""
    return exception_class(text=error_body(code, message), content_type="application/json",
                           headers=dict(headers or {}))
