"""A webhook receiver for the tests: an aiohttp server on 127.0.0.1 that records what it is sent."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What it was sent, and what it answers (``status``, ``body``, extra ``headers``; settable any time)."""

    url: str = ""
    status: int = 200
    body: bytes = b"thanks"
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    async def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {len(self.received)} of {count} deliveries in {timeout} s")
            await asyncio.sleep(0.05)
        return self.received


@asynccontextmanager
async def webhook_receiver():
    """A running ``Receiver``; its ``url`` is ``http://127.0.0.1:<port>/hook``."""
    receiver = Receiver()

    async def handle(request: web.Request) -> web.Response:
        receiver.received.append(Received(request.path, dict(request.headers), await request.read()))
        return web.Response(status=receiver.status, body=receiver.body, headers=receiver.headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiver.url = f"http://127.0.0.1:{server.port}/hook"
    try:
        yield receiver
    finally:
        await server.close()
