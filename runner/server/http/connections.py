"""Connection limits for the served app: read timeouts, connection caps, and JSON answers from aiohttp itself.

aiohttp's server has no header read timeout, no body read timeout and no connection cap, so a client
sending a request one byte at a time holds a connection, and the memory behind it, for ever. This
module adds them around aiohttp's own protocol, without a second server in front:

- ``GuardedAppRunner(app, limits)`` (used by ``playalter serve``) serves ``app`` through
  ``GuardedProtocol``, which counts connections (``server.max_connections`` in total,
  ``server.max_connections_per_ip`` from one address; one more is answered 503
  ``too_many_connections`` and closed) and closes a connection whose request headers are not complete
  ``server.header_timeout_seconds`` after the connection opened or the request's first byte arrived
  (408 ``request_timeout``). Idle keep-alive connections close after ``server.keepalive_timeout_seconds``.
- ``request_guard`` (a middleware, outermost but for metrics) tells the connection that a request's
  headers are done, and answers 408 ``request_timeout`` and closes the connection when the body has not
  fully arrived ``server.body_timeout_seconds`` after the headers. It works in any runner; without
  ``GuardedAppRunner`` only the body timeout applies.
- aiohttp answers requests it cannot parse (a header line over 8190 bytes, bad framing) itself, in plain
  text quoting the offending bytes, and logs the raw bytes; ``JsonErrorRequestHandler`` answers our JSON
  error instead, quoting nothing, and logs only the client address and the kind of error.
  ``expectation_failed_as_json`` does the same for its 417 to an unknown ``Expect`` header.

Refused and dropped connections are ``security_event``s (``connection_refused``, ``slow_client``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError

from ....pipelines.core.quoting import excerpt
from ..errors import error_body, error_response
from ..logs import security_event

log = logging.getLogger(__name__)

SERVER_NAME = "playalter"  # the Server header: no product versions
CONNECTION_RETRY_AFTER_SECONDS = 5
CLOSE_GRACE_SECONDS = 1.0  # a refused or timed-out client's time to read our answer before the close


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keepalive_timeout: float = 75.0
    max_connections: int = 1024
    max_connections_per_ip: int = 64  # 0: no per-address cap (e.g. behind a reverse proxy)

    @classmethod
    def from_settings(cls, settings) -> ConnectionLimits:
        server = settings.server
        return cls(float(server.header_timeout_seconds), float(server.body_timeout_seconds),
                   float(server.keepalive_timeout_seconds), int(server.max_connections),
                   int(server.max_connections_per_ip))


LIMITS = web.AppKey("playalter_connection_limits", ConnectionLimits)


def raw_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection, for writing straight to a transport."""
    body = error_body(code, message).encode()
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Content-Type: application/json; charset=utf-8",
             f"Content-Length: {len(body)}", "Connection: close", f"Server: {SERVER_NAME}",
             *(f"{name}: {value}" for name, value in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class ConnectionTracker:
    """Open connections, in total and by client address, and the guard of each transport."""

    def __init__(self, limits: ConnectionLimits):
        self.limits = limits
        self.by_address: Counter = Counter()
        self.total = 0
        self.guards: dict[asyncio.BaseTransport, GuardedProtocol] = {}

    def admit(self, address: str) -> bool:
        limits = self.limits
        if self.total >= limits.max_connections:
            return False
        if limits.max_connections_per_ip and self.by_address[address] >= limits.max_connections_per_ip:
            return False
        self.total += 1
        self.by_address[address] += 1
        return True

    def release(self, address: str) -> None:
        self.total -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


class GuardedProtocol(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: admission, and the header read deadline."""

    def __init__(self, tracker: ConnectionTracker, make_inner):
        self._tracker = tracker
        self._make_inner = make_inner
        self._inner: web.RequestHandler | None = None
        self._transport: asyncio.Transport | None = None
        self._address = ""
        self._deadline: asyncio.TimerHandle | None = None
        self._awaiting_request = True  # between requests: the next byte starts a header deadline
        self._closing: asyncio.TimerHandle | None = None  # answered by the guard itself: closes soon

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._address = peer[0] if isinstance(peer, tuple) else str(peer or "")
        if not self._tracker.admit(self._address):
            security_event("connection_refused", remote=self._address, connections=self._tracker.total)
            self._answer_and_close(raw_error(503, "too_many_connections", "too many open connections; retry shortly",
                                             {"Retry-After": str(CONNECTION_RETRY_AFTER_SECONDS)}))
            return
        self._tracker.guards[transport] = self
        self._inner = self._make_inner()
        self._inner.connection_made(transport)
        self._start_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._inner is None or self._closing is not None:
            return  # refused or answered: read and drop, so that closing does not reset the answer away
        if self._awaiting_request and self._deadline is None:
            self._start_header_deadline()
        self._inner.data_received(data)

    def eof_received(self):
        if self._inner is None or self._closing is not None:
            return None  # close now
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        if self._closing is not None:
            self._closing.cancel()
        if self._inner is None:
            return
        self._tracker.release(self._address)
        self._tracker.guards.pop(self._transport, None)
        inner, self._inner = self._inner, None
        inner.connection_lost(exc)

    def request_started(self) -> None:
        """The app has a complete request head: its headers arrived in time."""
        self._awaiting_request = False
        self._cancel_deadline()

    def request_finished(self, keep_alive: bool) -> None:
        """The app answered; on a kept-alive connection the next byte starts the next request."""
        self._awaiting_request = keep_alive

    def _start_header_deadline(self) -> None:
        self._cancel_deadline()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._tracker.limits.header_timeout, self._headers_timed_out)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_timed_out(self) -> None:
        self._deadline = None
        if self._transport is None or self._transport.is_closing():
            return
        security_event("slow_client", remote=self._address, phase="headers",
                       timeout_s=self._tracker.limits.header_timeout)
        self._answer_and_close(raw_error(408, "request_timeout",
                                         "the request headers did not arrive in time; connection closed"))

    def _answer_and_close(self, answer: bytes) -> None:
        """Send ``answer``, stop sending, and close once the client closes its side or ``CLOSE_GRACE_SECONDS`` pass."""
        self._transport.write(answer)
        if self._transport.can_write_eof():
            self._transport.write_eof()
        self._closing = asyncio.get_running_loop().call_later(CLOSE_GRACE_SECONDS, self._transport.close)


class JsonErrorRequestHandler(web.RequestHandler):
    """aiohttp's protocol, answering the requests it cannot parse with our JSON error, quoting nothing."""

    __slots__ = ()

    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            log.error("error handling a request from %s", request.remote, exc_info=exc)
        else:  # the exception text quotes the request bytes: name its kind only
            security_event("bad_http_request", level=logging.INFO, remote=request.remote,
                           status=status, kind=type(exc).__name__ if exc is not None else "unknown")
        if request.writer.output_size > 0:
            raise ConnectionError("the response was already started; cannot send the error")
        if status >= 500:
            response = error_response(status, "internal_error",
                                      "the server failed to handle this request; it has been logged")
        elif isinstance(exc, ContentEncodingError):  # one aiohttp cannot decode here (br without Brotli, zstd)
            response = error_response(status, "invalid_body", "the request's Content-Encoding is not supported "
                                      "here; send the body compressed with gzip or deflate, or uncompressed")
        else:
            response = error_response(status, "bad_request",
                                      "the request could not be parsed as HTTP/1.1 (malformed, or a request "
                                      "line or header over 8190 bytes)")
        response.headers["Server"] = SERVER_NAME
        response.force_close()
        return response


class GuardedServer:
    """The protocol factory ``GuardedAppRunner`` serves: aiohttp's ``web.Server``, each connection guarded."""

    def __init__(self, server: web.Server, tracker: ConnectionTracker):
        self._server = server
        self.tracker = tracker

    def __call__(self) -> GuardedProtocol:
        server = self._server
        # aiohttp's Server.__call__ builds RequestHandler(self, loop=..., **kwargs): the same, with our subclass
        return GuardedProtocol(self.tracker, lambda: JsonErrorRequestHandler(server, loop=server._loop,
                                                                             **server._kwargs))

    def __getattr__(self, name: str):  # connections, requests_count, pre_shutdown, shutdown...
        return getattr(self._server, name)


TRACKER = web.AppKey("playalter_connection_tracker", ConnectionTracker)


class GuardedAppRunner(web.AppRunner):
    """``web.AppRunner`` whose sites serve ``app`` through ``GuardedProtocol`` (limits from ``app[LIMITS]``)."""

    def __init__(self, app: web.Application, **kwargs):
        self._limits = app[LIMITS]
        kwargs.setdefault("keepalive_timeout", self._limits.keepalive_timeout)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> GuardedServer:
        tracker = ConnectionTracker(self._limits)
        self.app[TRACKER] = tracker
        server = await super()._make_server()
        return GuardedServer(server, tracker)


async def expectation_failed_as_json(request: web.Request, response: web.StreamResponse) -> None:
    """An ``on_response_prepare`` hook: aiohttp's own 417 in the JSON error shape, quoting at most 40 characters.

    aiohttp answers an ``Expect`` header other than ``100-continue`` itself, before any middleware runs (so
    before authentication), in plain text that echoes the whole header.
    """
    if response.status != 417 or response.content_type == "application/json":
        return
    expect = excerpt(request.headers.get("Expect", ""))
    body = error_body("expectation_failed", f"the Expect header '{expect}' is not supported; only '100-continue' is")
    response.text = body
    response.content_type = "application/json"
    response.headers["Content-Length"] = str(len(response.body))  # aiohttp counted the plain text already


@web.middleware
async def request_guard(request: web.Request, handler) -> web.StreamResponse:
    """Mark the request's headers as complete for its connection, and bound the time its body may take."""
    tracker = request.app.get(TRACKER)
    guard = tracker.guards.get(request.transport) if tracker is not None else None
    if guard is not None:
        guard.request_started()
    limits = request.app[LIMITS]
    task = asyncio.current_task()
    timed_out = False
    keep_alive = False

    def body_deadline() -> None:
        nonlocal timed_out
        if not request.content.is_eof():
            timed_out = True
            task.cancel()

    timer = None
    if request.body_exists and not request.content.is_eof():
        timer = asyncio.get_running_loop().call_later(limits.body_timeout, body_deadline)
    started = time.monotonic()
    try:
        response = await handler(request)
        keep_alive = response.keep_alive is not False
        return response
    except asyncio.CancelledError:
        if not timed_out:
            raise
        task.uncancel()
        security_event("slow_client", remote=request.remote, phase="body", path=request.path,
                       timeout_s=limits.body_timeout, seconds=round(time.monotonic() - started, 1))
        response = error_response(408, "request_timeout",
                                  f"the request body did not arrive within {limits.body_timeout:g} s; "
                                  "connection closed")
        response.force_close()  # aiohttp drops the connection after at most its lingering time (10 s)
        return response
    finally:
        if timer is not None:
            timer.cancel()
        if guard is not None:
            guard.request_finished(keep_alive)
