"""Helpers for the HTTP service tests: settings in a temp folder, the app over real HTTP, test images."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from playalter.pipelines.core.config import load_settings
from playalter.runner.server.http.app import create_app
from playalter.runner.server.http.auth import SECURITY

# A workflow of core nodes only: load the bound image, save it. Fast, and needs no model.
COPY_WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "placeholder.png"}, "_meta": {"title": "image"}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "copy"},
          "_meta": {"title": "output"}},
}


def make_settings(tmp_path: Path, **overrides: object):
    """Settings whose data, input, output and workflow folders live under ``tmp_path``.

    ``overrides`` are environment-style names without the prefix: ``SERVER__WORKERS=1``.
    """
    workflows = tmp_path / "workflows"
    workflows.mkdir(exist_ok=True)
    (workflows / "copy_image.json").write_text(json.dumps(COPY_WORKFLOW))
    (tmp_path / "input").mkdir(exist_ok=True)
    environ = {
        "PLAYALTER__PATHS__DATA_DIR": str(tmp_path / "data"),
        "PLAYALTER__PATHS__INPUT_DIR": str(tmp_path / "input"),
        "PLAYALTER__PATHS__OUTPUT_DIR": str(tmp_path / "output"),
        "PLAYALTER__PATHS__WORKFLOWS_DIR": str(workflows),
        **{f"PLAYALTER__{name}": str(value) for name, value in overrides.items()},
    }
    return load_settings(config_path=None, environ=environ)


@asynccontextmanager
async def running_app(settings):
    """(client, app, admin key) for the app served on a real local socket."""
    app = create_app(settings)
    admin_key = app[SECURITY].admin_key
    async with TestClient(TestServer(app)) as client:
        yield client, app, admin_key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def png_bytes(height: int = 96, width: int = 128, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)  # [H,W,3]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_image(text: str) -> np.ndarray:
    """base64 -> uint8 [H,W,3]."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """A text/event-stream body -> [(event, data)], keep-alive comments dropped."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


async def wait_finished(client, key: str, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await client.get(f"/api/jobs/{job_id}", headers=bearer(key))
        job = await response.json()
        if response.status == 503:  # a database coming back: ask again, as a client told Retry-After would
            await asyncio.sleep(0.5)
            continue
        if job["state"] in ("completed", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")
