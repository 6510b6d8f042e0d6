"""What auth + rate limits + audit add to a request.

One server process serves the same cheap handler twice: on a bare aiohttp app
and on an app with ``setup_security`` (API key or JWT auth, moving-window rate
limit, hash-chained audit row per request). The client (this process) sends
sequential keep-alive requests, alternating variants in rounds so machine noise
hits all of them alike, and reports p50/p99 latency; then it measures
requests/s with several requests in flight, and the server process's CPU time
per request (all its threads), which stays meaningful on a busy machine where
wall-clock numbers wander.

    python bench/server_auth.py [--requests 2000] [--concurrency 8] [--redis]

``--redis`` adds a variant whose rate-limit counters live in a throwaway
``redis-server`` (needs the binary).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web

from playalter.pipelines.core.config import load_settings
from playalter.runner.server.http.auth import setup_security

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # free_port lives with the tests
from ports import free_port  # noqa: E402


async def ping(request: web.Request) -> web.Response:
    return web.json_response({"pong": True})


def secured_app(data_dir: Path, storage: str, key_count: int) -> tuple[web.Application, list[str]]:
    """The same handler behind ``setup_security``, with ``key_count`` enterprise keys at the default limit."""
    settings = load_settings(environ={"PLAYALTER__RATE_LIMIT__STORAGE": storage})
    app = web.Application()
    app.router.add_get("/ping", ping)
    security = setup_security(app, settings, data_dir)
    return app, [security.keystore.create("enterprise", f"bench {index}")[1] for index in range(key_count)]


def serve(workdir: Path, storages: list[str], key_count: int, report) -> None:
    """Server process: a bare app and one secured app per rate-limit storage; reports [(port, keys)]."""

    async def main() -> None:
        bare = web.Application()
        bare.router.add_get("/ping", ping)
        bare.router.add_get("/cpu", lambda request: web.json_response(time.process_time()))  # all threads
        apps = [(bare, [])] + [secured_app(workdir / f"data{index}", storage, key_count)
                               for index, storage in enumerate(storages)]
        endpoints = []
        for app, keys in apps:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            endpoints.append((runner.addresses[0][1], keys))
        report.put(endpoints)
        await asyncio.Event().wait()

    asyncio.run(main())


async def latencies(session: ClientSession, url: str, headers: itertools.cycle, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(url, headers=next(headers)) as response:
            await response.read()
            assert response.status == 200, response.status
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


async def server_cpu_seconds(session: ClientSession, cpu_url: str) -> float:
    async with session.get(cpu_url) as response:
        return await response.json()


async def throughput(url: str, headers: itertools.cycle, count: int, concurrency: int,
                     cpu_url: str) -> tuple[float, float]:
    """(requests/s, server CPU µs per request) with ``concurrency`` requests in flight."""
    async with ClientSession(connector=TCPConnector(limit=concurrency)) as session:
        async def worker(share: int) -> None:
            for _ in range(share):
                async with session.get(url, headers=next(headers)) as response:
                    await response.read()

        sent = (count // concurrency) * concurrency
        cpu_before = await server_cpu_seconds(session, cpu_url)
        started = time.perf_counter()
        await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_used = await server_cpu_seconds(session, cpu_url) - cpu_before
        return sent / elapsed, cpu_used / sent * 1e6


async def measure(variants: dict[str, tuple[str, itertools.cycle]], requests: int, concurrency: int,
                  cpu_url: str, rounds: int = 10):
    samples = {name: [] for name in variants}
    async with ClientSession(connector=TCPConnector(limit=1)) as session:
        for name, (url, headers) in variants.items():  # warm-up: connections, caches, first audit rows
            await latencies(session, url, headers, 50)
        for _ in range(rounds):
            for name, (url, headers) in variants.items():
                samples[name] += await latencies(session, url, headers, requests // rounds)
    runs = {name: [] for name in variants}
    for _ in range(3):
        for name, (url, headers) in variants.items():
            runs[name].append(await throughput(url, headers, requests, concurrency, cpu_url))
    rates = {name: max(rate for rate, _ in values) for name, values in runs.items()}
    cpu = {name: min(cpu for _, cpu in values) for name, values in runs.items()}
    return samples, rates, cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no",
                                "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per variant (latency and throughput)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight for the throughput run")
    parser.add_argument("--redis", action="store_true", help="add a variant with Redis rate-limit storage")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="playalter-bench-"))
    storages, redis = ["memory://"], None
    if args.redis:
        if shutil.which("redis-server") is None:
            sys.stderr.write("redis-server not found; leaving out the Redis variant\n")
        else:
            redis, url = start_redis(workdir)
            storages.append(url)
    # Every variant sends ~4x --requests requests (warm-up, latency, 3 throughput runs); the keys share them
    # so that none exceeds the default enterprise limit, and each key's window stays as large as in production.
    key_count = math.ceil(2 * (4 * args.requests + 100) / 1900)
    report = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(workdir, storages, key_count, report), daemon=True)
    server.start()
    (bare_port, _), (memory_port, memory_keys), *redis_endpoint = report.get(timeout=60)

    async def tokens_for(port: int, keys: list[str]) -> list[str]:
        async with ClientSession() as session:
            tokens = []
            for key in keys:
                async with session.post(f"http://127.0.0.1:{port}/api/auth/token",
                                        headers={"Authorization": f"Bearer {key}"}) as response:
                    tokens.append((await response.json())["token"])
            return tokens

    def bearers(credentials: list[str]) -> itertools.cycle:
        return itertools.cycle([{"Authorization": f"Bearer {credential}"} for credential in credentials])

    tokens = asyncio.run(tokens_for(memory_port, memory_keys))
    variants = {
        "no auth/limits/audit": (f"http://127.0.0.1:{bare_port}/ping", itertools.cycle([{}])),
        "API key, memory limits": (f"http://127.0.0.1:{memory_port}/ping", bearers(memory_keys)),
        "JWT, memory limits": (f"http://127.0.0.1:{memory_port}/ping", bearers(tokens)),
    }
    for redis_port, redis_keys in redis_endpoint:
        variants["API key, Redis limits"] = (f"http://127.0.0.1:{redis_port}/ping", bearers(redis_keys))
    try:
        samples, rates, cpu = asyncio.run(measure(variants, args.requests, args.concurrency,
                                                  f"http://127.0.0.1:{bare_port}/cpu"))
    finally:
        server.terminate()
        if redis is not None:
            redis.terminate()

    base_p50 = statistics.median(samples["no auth/limits/audit"])
    base_rate = rates["no auth/limits/audit"]
    base_cpu = cpu["no auth/limits/audit"]
    print(f"{args.requests} sequential requests per variant for p50/p99 (alternating rounds); "
          f"{args.concurrency} in flight for req/s and server CPU per request (best of 3)\n")
    print(f"{'variant':<25}{'p50 ms':>8}{'p99 ms':>8}{'added p50':>11}{'req/s':>8}{'vs bare':>9}"
          f"{'CPU µs/req':>12}{'added':>8}")
    for name, values in samples.items():
        p50 = statistics.median(values)
        print(f"{name:<25}{p50:>8.3f}{percentile(values, 0.99):>8.3f}{p50 - base_p50:>+11.3f}"
              f"{rates[name]:>8.0f}{rates[name] / base_rate:>8.2f}x{cpu[name]:>12.0f}{cpu[name] - base_cpu:>+8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
