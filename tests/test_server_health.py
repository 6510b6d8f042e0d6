"""/health and /ready report each dependency; X-RateLimit-Remaining is exact under concurrency in Redis."""

from __future__ import annotations

import asyncio

import pytest

from security_app import RedisServer
from server_app_helpers import bearer, make_settings, running_app


@pytest.fixture
def redis(tmp_path):
    try:
        server = RedisServer(tmp_path)
    except FileNotFoundError:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    yield server
    if server.process.poll() is None:
        server.stop()


def test_redis_down_makes_the_service_not_ready_and_health_says_which_dependency(tmp_path, redis):
    settings = make_settings(tmp_path, RATE_LIMIT__STORAGE=redis.url, RATE_LIMIT__ENTERPRISE_PER_HOUR=500)

    async def scenario():
        async with running_app(settings) as (client, app, key):
            ready = await client.get("/ready")
            body = await ready.json()
            assert ready.status == 200 and body["status"] == "ready", body
            assert set(body["checks"]) == {"databases", "disk_space", "rate_limit_storage", "workers", "models"}

            async def one() -> str:
                response = await client.get("/api/workflows", headers=bearer(key))
                assert response.status == 200
                return response.headers["X-RateLimit-Remaining"]

            remaining = await asyncio.gather(*(one() for _ in range(100)))
            assert sorted(map(int, remaining)) == list(range(400, 500))  # each answer its own count

            redis.stop()
            not_ready = await client.get("/ready")
            body = await not_ready.json()
            assert not_ready.status == 503 and body["status"] == "not_ready"
            assert body["checks"]["rate_limit_storage"]["status"] == "down"
            assert body["checks"]["databases"]["status"] == "ok"
            assert redis.url not in await not_ready.text()
            health = await client.get("/health")
            body = await health.json()
            assert health.status == 200 and body["status"] == "degraded"
            assert body["checks"]["rate_limit_storage"]["status"] == "down"

    asyncio.run(scenario())


def test_a_damaged_database_or_a_missing_models_folder_is_reported(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(models))
    settings = make_settings(tmp_path)

    async def scenario():
        async with running_app(settings) as (client, app, key):
            body = await (await client.get("/ready")).json()
            assert {name: check["status"] for name, check in body["checks"].items()} == {
                "databases": "ok", "disk_space": "ok", "rate_limit_storage": "ok", "workers": "ok", "models": "ok"}
            (tmp_path / "data" / "jobs.sqlite3").rename(tmp_path / "data" / "jobs.moved")
            models.rmdir()
            monkeypatch.chdir(tmp_path)  # no ./models either
            response = await client.get("/ready")
            body = await response.json()
            assert response.status == 503
            assert body["checks"]["databases"] == {
                "status": "down", "detail": "the jobs database is missing, unreadable, damaged or locked"}
            assert body["checks"]["models"]["status"] == "down"
            assert str(tmp_path) not in await response.text()

    asyncio.run(scenario())
