"""How soon a job's webhook arrives after the job ends, and what one attempt costs.

    python bench/webhooks.py [--jobs 20]

One service on SQLite in this process, on a real local socket, with
``webhooks.allow_private_targets`` on and a receiver on 127.0.0.1. ``--jobs``
copy-image workflow runs are sent with ``Prefer: respond-async`` and a
``webhook_url``; for each, the delay from the job's ``finished_at`` to the
receiver getting its event (the deliverer polls every ``POLL_SECONDS``), and
each attempt's ``duration_ms`` as recorded (resolution, address check,
connection, POST, reading the answer).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from playalter.pipelines.core.config import load_settings
from playalter.runner.server.http.app import create_app
from playalter.runner.server.http.auth import SECURITY
from playalter.runner.server.webhooks.deliverer import POLL_SECONDS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the copy-image workflow of the tests
from server_app_helpers import COPY_WORKFLOW  # noqa: E402


def _png() -> str:
    pixels = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)  # [H,W,3]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


async def measure(jobs: int, root: Path) -> None:
    (root / "workflows").mkdir()
    (root / "workflows" / "copy_image.json").write_text(json.dumps(COPY_WORKFLOW))
    settings = load_settings(config_path=None, environ={
        "PLAYALTER__PATHS__DATA_DIR": str(root / "data"), "PLAYALTER__PATHS__WORKFLOWS_DIR": str(root / "workflows"),
        "PLAYALTER__PATHS__INPUT_DIR": str(root), "PLAYALTER__PATHS__OUTPUT_DIR": str(root / "output"),
        "PLAYALTER__WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true", "PLAYALTER__RATE_LIMIT__MAX_CONCURRENT_JOBS": str(jobs),
        "PLAYALTER__SERVER__QUEUE_SIZE": str(jobs)})
    arrived: dict[str, float] = {}

    async def receive(request: web.Request) -> web.Response:
        arrived[json.loads(await request.read())["data"]["id"]] = time.time()
        return web.Response(text="ok")

    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", receive)
    receiver = TestServer(receiver_app, host="127.0.0.1")
    await receiver.start_server()
    app = create_app(settings)
    key = app[SECURITY].admin_key
    headers = {"Authorization": f"Bearer {key}", "Prefer": "respond-async"}
    async with TestClient(TestServer(app)) as client:
        image = _png()
        ids = []
        for _ in range(jobs):
            answer = await client.post("/api/workflows/copy_image/run", headers=headers,
                                       json={"images": {"image": image}, "webhook_url": f"{receiver.make_url('/hook')}"})
            if answer.status != 202:
                raise SystemExit(f"the run was refused: {answer.status} {await answer.text()}")
            ids.append((await answer.json())["id"])
        deadline = time.monotonic() + 60 + jobs * POLL_SECONDS
        while len(arrived) < jobs and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        delays, attempts = [], []
        for job_id in ids:
            job = await (await client.get(f"/api/jobs/{job_id}", headers=headers)).json()
            delays.append(arrived[job_id] - job["finished_at"])
            attempts.extend(attempt["duration_ms"] for attempt in job["webhooks"][0]["attempts"])
    await receiver.close()
    print(f"{jobs} jobs, deliverer poll {POLL_SECONDS:g} s")
    print(f"job end -> webhook received: median {statistics.median(delays):.3f} s, max {max(delays):.3f} s")
    print(f"one attempt (resolve, check, connect, POST, read): median {statistics.median(attempts):.1f} ms, "
          f"max {max(attempts):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(measure(arguments.jobs, Path(root)))


if __name__ == "__main__":
    main()
