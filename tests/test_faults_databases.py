"""Database and Redis outages: 503 with Retry-After (never a 500), work in flight finished after the outage, the
Postgres pool reconnected, and each outage logged as one warning, not a traceback per request."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from playalter.runner.server.http.auth import SECURITY
from playalter.runner.server.jobs.queue import engine
from playalter.runner.server.storage.database import Database
from security_app import RedisServer
from server_app_helpers import b64, bearer, make_settings, png_bytes, running_app, wait_finished

pytestmark = pytest.mark.timeout(300)


def outages_logged(caplog) -> list[str]:
    return [record.fault for record in caplog.records if getattr(record, "event", "") == "outage_started"]


def errors_logged(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


async def refused_503(response) -> None:
    body = await response.json()
    assert response.status == 503, body
    assert body["error"]["code"] in ("database_unavailable", "rate_limit_unavailable")
    assert int(response.headers["Retry-After"]) > 0


async def reads_refused(client, key: str, job_id: str) -> None:
    """While the database is away: three concurrent reads of the job and /ready are each a 503."""
    for response in await asyncio.gather(*(client.get(f"/api/jobs/{job_id}", headers=bearer(key))
                                           for _ in range(3))):
        await refused_503(response)
    assert (await client.get("/ready")).status == 503


def test_a_locked_sqlite_job_database_answers_503_and_recovers(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="playalter")
    settings = make_settings(tmp_path)

    async def scenario():
        async with running_app(settings) as (client, app, key):
            created = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                        json={"images": {"image": b64(png_bytes())}, "async": True})
            job_id = (await created.json())["id"]
            await wait_finished(client, key, job_id)

            holder = sqlite3.connect(tmp_path / "data" / "jobs.sqlite3", isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock past the busy timeout
            try:
                await reads_refused(client, key, job_id)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert (await client.get(f"/api/jobs/{job_id}", headers=bearer(key))).status == 200
            assert (await client.get("/ready")).status == 200

    asyncio.run(scenario())
    assert outages_logged(caplog) == ["database_unavailable"]
    assert not errors_logged(caplog)


def test_postgres_stopped_and_restarted_answers_503_then_finishes_the_work(tmp_path, postgres, caplog):
    caplog.set_level(logging.INFO, logger="playalter")
    settings = make_settings(tmp_path, DATABASE__URL=postgres.create_database("outage"), SERVER__WORKERS=1,
                             QUEUE__LEASE_SECONDS=4, SECURITY__AUDIT_CHECKPOINT_SECRET="c" * 40)

    async def scenario():
        async with running_app(settings) as (client, app, key):
            images = [b64(png_bytes(seed=seed)) for seed in range(6)]
            batch = await client.post("/api/batch/process", headers=bearer(key),
                                      json={"images_base64": images, "operation": "detect"})
            assert batch.status == 202, await batch.text()
            job_id = (await batch.json())["id"]

            await asyncio.to_thread(postgres.stop, "fast")  # while the batch runs
            try:
                await reads_refused(client, key, job_id)
            finally:
                await asyncio.to_thread(postgres.start)

            job = await wait_finished(client, key, job_id, timeout=120)  # the pool reconnected by itself
            assert job["progress"]["completed"] == len(images), job
            assert (await client.get("/ready")).status == 200
            assert await asyncio.to_thread(app[SECURITY].audit.verify)

    asyncio.run(scenario())
    assert outages_logged(caplog) == ["database_unavailable"]  # once, for the replica's and the worker's pools
    assert not errors_logged(caplog)


def test_an_item_whose_end_could_not_be_recorded_is_queued_again(postgres):
    """The database away just as a worker records an item's end leaves the item's queue job "doing" under a
    live worker, which nothing calls stalled: the worker gives back what it holds but no longer runs."""
    url = postgres.create_database("abandoned")
    engine.install_schema(Database(url))
    app = engine.build_app(url)

    async def scenario():
        async with app.open_async():
            await engine.enqueue(app, "job", 0)
            worker_id = await app.job_manager.register_worker()
            job = await app.job_manager.fetch_job(queues=[engine.QUEUE], worker_id=worker_id)
            await asyncio.sleep(0.05)
            assert await engine.retry_abandoned(app, worker_id, {job.id}, lease_seconds=0) == 0  # it runs it
            assert await engine.retry_abandoned(app, worker_id, set(), lease_seconds=3600) == 0  # just started
            assert await engine.retry_abandoned(app, worker_id, set(), lease_seconds=0) == 1
            [again] = await app.job_manager.list_jobs_async(id=job.id)
            assert again.status == "todo"
            assert await app.job_manager.fetch_job(queues=[engine.QUEUE], worker_id=worker_id) is not None

    asyncio.run(scenario())


def test_redis_stopped_and_restarted_is_logged_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="playalter")
    try:
        redis = RedisServer(tmp_path)
    except FileNotFoundError:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    settings = make_settings(tmp_path, RATE_LIMIT__STORAGE=redis.url)

    async def scenario():
        nonlocal redis
        async with running_app(settings) as (client, app, key):
            assert (await client.get("/api/workflows", headers=bearer(key))).status == 200
            port = redis.port
            redis.stop()
            for _ in range(12):
                await refused_503(await client.get("/api/workflows", headers=bearer(key)))
            redis = RedisServer(tmp_path, port=port)
            assert (await client.get("/api/workflows", headers=bearer(key))).status == 200

    try:
        asyncio.run(scenario())
    finally:
        if redis.process.poll() is None:
            redis.stop()
    assert outages_logged(caplog) == ["rate_limit_storage"]
    ended = [record for record in caplog.records if getattr(record, "event", "") == "outage_ended"]
    assert [record.source for record in ended] == ["rate_limit_storage"]
    assert not errors_logged(caplog) and not [record for record in caplog.records if record.exc_info]


def test_a_burst_past_the_postgres_queue_limit_is_refused_promptly(tmp_path, postgres):
    settings = make_settings(tmp_path, DATABASE__URL=postgres.create_database("burst"), SERVER__WORKERS=0,
                             SERVER__QUEUE_SIZE=4, RATE_LIMIT__MAX_CONCURRENT_JOBS=100,
                             SECURITY__AUDIT_CHECKPOINT_SECRET="c" * 40)

    async def scenario():
        async with running_app(settings) as (client, app, key):
            body = {"images_base64": [b64(png_bytes())], "operation": "detect"}
            answers = await asyncio.gather(*(client.post("/api/batch/process", headers=bearer(key), json=body)
                                             for _ in range(8)))
            statuses = [answer.status for answer in answers]
            # no worker runs them: never more than the queue's size admitted (a job being admitted counts until it
            # is enqueued, so a burst may be refused a little early, never late)
            assert 1 <= statuses.count(202) <= 4 and statuses.count(202) + statuses.count(503) == 8
            for answer in answers:
                if answer.status == 503:
                    assert (await answer.json())["error"]["code"] == "queue_full"
                    assert int(answer.headers["Retry-After"]) > 0

    asyncio.run(scenario())


def test_faults_are_told_apart_from_bugs():
    import errno

    import psycopg

    from playalter.runner.server.faults import fault_of

    assert fault_of(sqlite3.OperationalError("database is locked")) == "database_unavailable"
    assert fault_of(sqlite3.OperationalError("database or disk is full")) == "storage_full"
    assert fault_of(sqlite3.OperationalError("no such table: jobs")) is None  # a bug stays a 500 with its traceback
    assert fault_of(psycopg.OperationalError("connection refused")) == "database_unavailable"
    wrapped = RuntimeError("the node failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert fault_of(wrapped) == "storage_full"
    assert fault_of(ValueError("bad input")) is None
