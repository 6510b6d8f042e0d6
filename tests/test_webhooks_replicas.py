"""Two API replicas on one Postgres database: every job's webhook is sent once, by whichever replica claims it,
and verifies against the key's secret read from either replica."""

from __future__ import annotations

import asyncio
import json

import pytest

from server_app_helpers import b64, bearer, make_settings, png_bytes, running_app, wait_finished
from webhook_receiver import webhook_receiver

pytestmark = pytest.mark.timeout(300)
JOBS_PER_REPLICA = 4


@pytest.fixture(scope="module")
def database_url(postgres):
    return postgres.create_database("webhooks")


def test_two_replicas_send_each_event_once(tmp_path, database_url):
    standardwebhooks = pytest.importorskip("standardwebhooks")

    async def scenario():
        settings = make_settings(tmp_path, DATABASE__URL=database_url, SERVER__WORKERS=1, QUEUE__LEASE_SECONDS=4,
                                 SECURITY__AUDIT_CHECKPOINT_SECRET="c" * 40, WEBHOOKS__ALLOW_PRIVATE_TARGETS="true")
        async with webhook_receiver() as receiver, running_app(settings) as (first, _, key), \
                running_app(settings) as (second, _, _):
            job_ids = []
            for client in (first, second):
                for seed in range(JOBS_PER_REPLICA):
                    run = await client.post("/api/workflows/copy_image/run",
                                            headers={**bearer(key), "Prefer": "respond-async"},
                                            json={"images": {"image": b64(png_bytes(seed=seed))},
                                                  "webhook_url": receiver.url})
                    assert run.status == 202, await run.text()
                    job_ids.append((await run.json())["id"])
            for job_id in job_ids:  # the jobs end first (run by either replica's worker) ...
                assert (await wait_finished(first, key, job_id))["state"] == "completed"
            received = await receiver.wait_for(len(job_ids), timeout=60)  # ... then their events arrive
            await asyncio.sleep(3 * 1.0)  # three more polls of both replicas: a second send would arrive now
            secret = (await (await second.get("/api/webhooks/secret", headers=bearer(key))).json())["secret"]
            verifier = standardwebhooks.Webhook(secret)
            events = [verifier.verify(entry.body, entry.headers) for entry in received]
            assert sorted(event["data"]["id"] for event in events) == sorted(job_ids)
            assert len({entry.headers["webhook-id"] for entry in received}) == len(received) == len(job_ids)
            shown = await (await first.get(f"/api/jobs/{job_ids[-1]}", headers=bearer(key))).json()
            assert shown["webhooks"][0]["event"] == "job.completed"
            assert json.loads(received[0].body)["type"] == "job.completed"

    asyncio.run(scenario())
