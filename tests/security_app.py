"""A minimal aiohttp app with the real security stack, for the tests/test_server_security*.py suites.

The real service (endpoints, jobs) lives elsewhere; these handlers are cheap
stand-ins that exercise what security promises: scopes, costs, job slots,
audit notes, errors.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import subprocess
import time
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from playalter.pipelines.core.config import load_settings
from playalter.runner.server.http.audit import AUDIT_NOTE
from playalter.runner.server.http.auth import require_scope, requires_scope, setup_security
from playalter.runner.server.security.context import PRINCIPAL
from playalter.runner.server.errors import json_error
from playalter.runner.server.security.ratelimit import LIMITER, rate_cost

from ports import free_port

RELEASE_JOBS = web.AppKey("release_jobs", asyncio.Event)


async def ping(request: web.Request) -> web.Response:
    return web.json_response({"pong": True})


@requires_scope("face:swap")
async def swap(request: web.Request) -> web.Response:
    return web.json_response({"swapped": True})


async def batch_items(request: web.Request) -> int:
    return len((await request.json())["images_base64"])


@rate_cost(batch_items)
async def batch(request: web.Request) -> web.Response:
    require_scope(request, "batch")
    try:
        body = await request.json()
    except ValueError:
        raise json_error(web.HTTPBadRequest, "invalid_json", "the body is not valid JSON") from None
    note = request[AUDIT_NOTE]
    note.operation = "batch.process"
    for item in body["images_base64"]:
        note.add_input(base64.b64decode(item))
    note.parameters.update(body)
    return web.json_response({"items": len(body["images_base64"])})


async def job(request: web.Request) -> web.Response:
    async with request.app[LIMITER].job_slot(request[PRINCIPAL]):
        await request.app[RELEASE_JOBS].wait()
    return web.json_response({"done": True})


async def invalid(request: web.Request) -> web.Response:
    raise json_error(web.HTTPBadRequest, "invalid_parameter", "strength must be between 0 and 1")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(data_dir: Path, **environ: str):
    """The test app and its ``SecuritySetup``; ``environ`` holds PLAYALTER__... overrides."""
    settings = load_settings(environ=environ)
    app = web.Application()
    app[RELEASE_JOBS] = asyncio.Event()
    app.router.add_get("/health", health)
    app.router.add_get("/api/ping", ping)
    app.router.add_post("/api/swap", swap)
    app.router.add_post("/api/batch", batch)
    app.router.add_post("/api/job", job)
    app.router.add_post("/api/invalid", invalid)
    security = setup_security(app, settings, data_dir)
    return app, security


@asynccontextmanager
async def serve(app: web.Application):
    """A real HTTP server on a free port and a client for it."""
    async with TestClient(TestServer(app)) as client:
        yield client


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


class RedisServer:
    """A throwaway ``redis-server`` on a free port, data in a temp dir."""

    def __init__(self, workdir: Path, port: int | None = None):
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.port = port or free_port()  # a port: Redis started again where the service expects it
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
