"""One process on Postgres: ``serve`` with ``server.workers`` > 0 runs a queue worker inside itself, and the
existing endpoints behave as in SQLite mode (a synchronous run, a batch with a corrupt image, idempotency)."""

from __future__ import annotations

import asyncio

import pytest

from server_app_helpers import b64, bearer, make_settings, png_bytes, running_app, wait_finished

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def database_url(postgres):
    return postgres.create_database("single")


def test_one_postgres_process_runs_items_itself(tmp_path, database_url):
    async def scenario():
        settings = make_settings(tmp_path, DATABASE__URL=database_url, SERVER__WORKERS=1, QUEUE__LEASE_SECONDS=4,
                                 SECURITY__AUDIT_CHECKPOINT_SECRET="c" * 40)
        async with running_app(settings) as (client, app, key):
            assert key is not None  # the first admin key, now in Postgres
            run = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                    json={"images": {"image": b64(png_bytes(seed=0))}})
            assert run.status == 200, await run.text()
            images = [png_bytes(seed=0), png_bytes(seed=1)[:200], png_bytes(seed=2)]
            headers = {**bearer(key), "Idempotency-Key": "batch-1"}
            body = {"images_base64": [b64(data) for data in images], "operation": "detect"}
            batch = await client.post("/api/batch/process", headers=headers, json=body)
            assert batch.status == 202, await batch.text()
            job = await wait_finished(client, key, (await batch.json())["id"])
            assert [item["state"] for item in job["items"]] == ["completed", "failed", "completed"]
            assert job["items"][1]["error"]["code"] == "invalid_image"
            replay = await client.post("/api/batch/process", headers=headers, json=body)
            assert replay.status == 200 and (await replay.json())["id"] == job["id"]
            ready = await client.get("/ready")
            checks = (await ready.json())["checks"]
            assert ready.status == 200 and checks["queue"]["status"] == "ok" and "1 live worker" in \
                checks["queue"]["detail"]

    asyncio.run(scenario())


def test_a_worker_without_a_shared_database_explains_what_it_needs(tmp_path):
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if not key.startswith("PLAYALTER__")}
    command = [sys.executable, "-m", "playalter.runner.cli.main", "worker"]
    missing = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "PLAYALTER__DATABASE__URL=postgresql://" in missing.stderr
    bad_device = subprocess.run([*command, "--device", "gpu0"], env=env, capture_output=True, text=True, timeout=120)
    assert bad_device.returncode == 2 and "--device must be cpu or cuda:N" in bad_device.stderr
