"""The one error shape of the HTTP API: ``{"error": {"code": ..., "message": ...}}``.

Two ways to answer an error in that shape:

- a handler raises ``ApiError``; ``error_middleware`` turns it, aiohttp's own
  HTTP errors (404, 405, 413, ...) and any unexpected exception into that
  shape. An unexpected exception is logged with its traceback and answered
  with a plain 500 message: a stack trace never reaches the client. A fault of the machine (a full disk, a
  database outage, ``faults.py``) is not a bug: it is answered 507 or 503 and logged once while it lasts.
- code outside the handlers (the security middlewares, the connection guard)
  raises ``json_error(...)``, an aiohttp ``HTTPException`` that already
  carries the JSON body, or writes ``error_body(...)`` itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError

from ...pipelines.core.quoting import excerpt
from .faults import fault_answer

log = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that left before its answer was complete

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """An error answered to the client as is: HTTP status, stable code, message, optional details."""

    def __init__(self, status: int, code: str, message: str, *, details: Any = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, *, details: Any = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return web.json_response({"error": body}, status=status, headers=headers)


def error_body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def json_error(exception_class: type[web.HTTPException], code: str, message: str,
               headers: Mapping[str, str] | None = None) -> web.HTTPException:
    """An ``exception_class`` instance (e.g. ``web.HTTPForbidden``) carrying the JSON error body."""
    return exception_class(text=error_body(code, message), content_type="application/json",
                           headers=dict(headers or {}))


def error_middleware(max_body_mb: float):
    """The middleware answering every error in the JSON shape; ``max_body_mb`` is quoted in 413 messages."""

    @web.middleware
    async def answer_errors(request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error.status, error.code, error.message, details=error.details,
                                  headers=error.headers)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            if error.content_type == "application/json":
                raise  # already in our shape (built by json_error)
            message = _http_message(error, max_body_mb)
            headers = {name: value for name, value in error.headers.items() if name in ("Allow", "Retry-After")}
            return error_response(error.status, _HTTP_CODES.get(error.status, "http_error"), message, headers=headers)
        except web.RequestPayloadError as error:
            return _unreadable_body(request, error)
        except ConnectionResetError:
            if not _client_gone(request):
                raise
            log.info("the client closed the connection during %s %s", request.method, request.path)
            return error_response(CLIENT_CLOSED_REQUEST, "client_closed_request",
                                  "the client closed the connection before the answer was complete")
        except Exception as error:
            fault = fault_answer(error)  # a full disk or a database outage: logged once while it lasts
            if fault is not None:
                return error_response(fault.status, fault.code, fault.message, headers=fault.headers)
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(500, "internal_error", "the server failed to handle this request; it has been logged")

    return answer_errors


def _unreadable_body(request: web.Request, error: web.RequestPayloadError) -> web.Response:
    """400 for a body aiohttp cannot read: bytes that do not match their Content-Encoding, or broken framing.

    The connection is closed after the answer, since the rest of the body cannot be read either.
    """
    if isinstance(error.__cause__, ContentEncodingError):
        encoding = excerpt(request.headers.get("Content-Encoding", ""))
        message = (f"the request body cannot be decoded as its Content-Encoding '{encoding}' says; "
                   "send it compressed as declared, or uncompressed without the header")
    else:
        message = "the request body is malformed or incomplete (its chunks or length do not match its headers)"
    request.content.feed_eof()  # read no further: aiohttp would try to read the rest after the answer, and fail again
    response = error_response(400, "invalid_body", message)
    response.force_close()
    return response


def _http_message(error: web.HTTPException, max_body_mb: float) -> str:
    if error.status == 404:  # the path is not quoted: it is the caller's input, and may hold anything
        return "no such endpoint; the API is described at /docs"
    if error.status == 405:
        return f"this method is not allowed on this endpoint; allowed: {error.headers.get('Allow', 'none')}"
    if error.status == 413:
        return f"the request body is larger than the limit of {max_body_mb:g} MB (setting security.max_body_mb)"
    return error.reason or "request failed"


def _client_gone(request: web.Request) -> bool:
    """Whether the client's connection is closed or closing (a reset then comes from writing to it)."""
    return request.transport is None or request.transport.is_closing()
