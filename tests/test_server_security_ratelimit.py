"""Tiered hourly limits, their headers, batch costs, exactness under concurrency (memory and Redis), job slots."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import Counter
from contextlib import AsyncExitStack

import pytest
from aiohttp import web

from playalter.runner.server.security.keys import Principal
from playalter.runner.server.logs import SECURITY_LOGGER
from playalter.runner.server.security.ratelimit import RateLimiter

from security_app import RELEASE_JOBS, RedisServer, bearer, build_app, serve


def run(coroutine):
    return asyncio.run(coroutine)


def images(count: int) -> list[str]:
    return [base64.b64encode(bytes([index]) * 16).decode() for index in range(count)]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except FileNotFoundError:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    yield server.url
    server.stop()


def test_the_101st_request_of_a_basic_key_is_429_with_headers(tmp_path, caplog):
    async def scenario():
        app, security = build_app(tmp_path)
        key_id, key = security.keystore.create("basic")
        async with serve(app) as client:
            remaining = []
            for _ in range(100):
                response = await client.get("/api/ping", headers=bearer(key))
                assert response.status == 200
                assert response.headers["X-RateLimit-Limit"] == "100"
                remaining.append(int(response.headers["X-RateLimit-Remaining"]))
            assert remaining == list(range(99, -1, -1))

            refused = await client.get("/api/ping", headers=bearer(key))
            assert refused.status == 429
            assert (await refused.json())["error"]["code"] == "rate_limit_exceeded"
            assert refused.headers["X-RateLimit-Limit"] == "100"
            assert refused.headers["X-RateLimit-Remaining"] == "0"
            reset = int(refused.headers["X-RateLimit-Reset"])
            retry_after = int(refused.headers["Retry-After"])
            now = time.time()
            assert 3500 < retry_after <= 3600
            assert now + 3500 < reset <= now + 3601
        return key_id

    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        key_id = run(scenario())
    events = [(record.event, record.key_id, record.limit) for record in caplog.records if record.name == SECURITY_LOGGER]
    assert events == [("rate_limited", key_id, 100)]


def test_tiers_get_their_configured_limits_and_every_authenticated_response_has_headers(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path, PLAYALTER__RATE_LIMIT__PREMIUM_PER_HOUR="7")
        _, premium = security.keystore.create("premium", scopes=["face:analyze"])
        _, enterprise = security.keystore.create("enterprise")
        async with serve(app) as client:
            ok = await client.get("/api/ping", headers=bearer(premium))
            assert (ok.headers["X-RateLimit-Limit"], ok.headers["X-RateLimit-Remaining"]) == ("7", "6")
            handler_error = await client.post("/api/invalid", headers=bearer(premium))
            assert handler_error.status == 400 and handler_error.headers["X-RateLimit-Remaining"] == "5"
            scope_error = await client.post("/api/swap", headers=bearer(premium))
            assert scope_error.status == 403 and scope_error.headers["X-RateLimit-Remaining"] == "4"
            free = await client.get("/api/auth/me", headers=bearer(premium))
            assert free.headers["X-RateLimit-Remaining"] == "4"  # rate_cost(0): reading the quota is free
            big = await client.get("/api/ping", headers=bearer(enterprise))
            assert big.headers["X-RateLimit-Limit"] == "2000"

    run(scenario())


def test_batch_items_count_all_or_nothing(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path, PLAYALTER__RATE_LIMIT__BASIC_PER_HOUR="25")
        _, key = security.keystore.create("basic")
        async with serve(app) as client:
            first = await client.post("/api/batch", headers=bearer(key), json={"images_base64": images(10)})
            assert first.status == 200 and first.headers["X-RateLimit-Remaining"] == "15"
            second = await client.post("/api/batch", headers=bearer(key), json={"images_base64": images(10)})
            assert second.headers["X-RateLimit-Remaining"] == "5"
            too_big = await client.post("/api/batch", headers=bearer(key), json={"images_base64": images(10)})
            assert too_big.status == 429 and too_big.headers["X-RateLimit-Remaining"] == "5"  # nothing spent
            malformed = await client.post("/api/batch", headers=bearer(key), data=b"{not json")
            assert malformed.status == 400 and malformed.headers["X-RateLimit-Remaining"] == "5"  # refused: free
            fits = await client.post("/api/batch", headers=bearer(key), json={"images_base64": images(5)})
            assert fits.status == 200 and fits.headers["X-RateLimit-Remaining"] == "0"
            over_limit = await client.post("/api/batch", headers=bearer(key), json={"images_base64": images(26)})
            assert over_limit.status == 400 and "Retry-After" not in over_limit.headers  # waiting cannot help
            error = (await over_limit.json())["error"]
            assert error["code"] == "cost_exceeds_limit" and "more than your hourly limit of 25" in error["message"]

    run(scenario())


async def simultaneous(clients, key: str, count: int) -> Counter:
    """``count`` requests in flight at once, spread over ``clients``; tally of status codes."""
    start = asyncio.Event()

    async def one(index: int) -> int:
        await start.wait()
        response = await clients[index % len(clients)].get("/api/ping", headers=bearer(key))
        await response.read()
        return response.status

    tasks = [asyncio.create_task(one(index)) for index in range(count)]
    await asyncio.sleep(0)
    start.set()
    return Counter(await asyncio.gather(*tasks))


def exactness_scenario(tmp_path, storage: str, replicas: int):
    async def scenario():
        built = [build_app(tmp_path, PLAYALTER__RATE_LIMIT__STORAGE=storage, PLAYALTER__RATE_LIMIT__BASIC_PER_HOUR="30")
                 for _ in range(replicas)]  # replicas share the data dir, hence the key database
        _, key = built[0][1].keystore.create("basic")
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(serve(app)) for app, _ in built]
            spent = await simultaneous(clients, key, 12)
            assert spent == Counter({200: 12})
            burst = await simultaneous(clients, key, 18 + 25)  # 18 left, 25 more on top
            assert burst == Counter({200: 18, 429: 25})

    run(scenario())


def test_limit_is_exact_under_concurrency_in_memory(tmp_path):
    exactness_scenario(tmp_path, "memory://", replicas=1)


def test_limit_is_exact_under_concurrency_in_redis(tmp_path, redis_url):
    exactness_scenario(tmp_path, redis_url, replicas=1)


def test_replicas_share_one_limit_through_redis(tmp_path, redis_url):
    exactness_scenario(tmp_path, redis_url, replicas=2)


def test_unreachable_limit_storage_fails_closed_with_503(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path, PLAYALTER__RATE_LIMIT__STORAGE="redis://127.0.0.1:1")
        _, key = security.keystore.create("basic")
        async with serve(app) as client:
            response = await client.get("/api/ping", headers=bearer(key))
            assert response.status == 503
            assert (await response.json())["error"]["code"] == "rate_limit_unavailable"
            assert response.headers["Retry-After"] == "5"

    run(scenario())


def test_concurrent_jobs_per_key_are_capped(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path, PLAYALTER__RATE_LIMIT__MAX_CONCURRENT_JOBS="2")
        _, key = security.keystore.create("basic")
        _, other_key = security.keystore.create("basic")
        async with serve(app) as client:
            running = [asyncio.create_task(client.post("/api/job", headers=bearer(key))) for _ in range(2)]
            while security.limiter.jobs_running(security.keystore.authenticate(key)) < 2:
                await asyncio.sleep(0.01)
            third = await client.post("/api/job", headers=bearer(key))
            assert third.status == 429
            assert (await third.json())["error"]["code"] == "too_many_concurrent_jobs"
            assert "Retry-After" in third.headers and "X-RateLimit-Remaining" in third.headers
            other = asyncio.create_task(client.post("/api/job", headers=bearer(other_key)))  # other keys unaffected
            app[RELEASE_JOBS].set()
            assert [response.status for response in await asyncio.gather(*running, other)] == [200, 200, 200]
            assert security.limiter.jobs_running(security.keystore.authenticate(key)) == 0
            assert (await client.post("/api/job", headers=bearer(key))).status == 200

    run(scenario())


def test_a_job_slot_kept_for_background_work_is_released_once(tmp_path):
    limiter = RateLimiter("memory://", {"basic": 100, "premium": 500, "enterprise": 2000}, max_concurrent_jobs=1)
    principal = Principal("0123456789ab", "worker", "basic", frozenset({"batch"}))
    slot = limiter.job_slot(principal)
    with pytest.raises(web.HTTPTooManyRequests):
        limiter.job_slot(principal)
    slot.release()
    slot.release()  # a second release must not free someone else's slot
    again = limiter.job_slot(principal)
    assert limiter.jobs_running(principal) == 1
    with pytest.raises(web.HTTPTooManyRequests):
        limiter.job_slot(principal)
    again.release()
    assert limiter.jobs_running(principal) == 0
