"""Load held: many clients on cheap endpoints plus a steady stream of privacy jobs, then a burst past the queue.

    python bench/load.py                      # 200 clients for 60 s, both deployments
    python bench/load.py --quick              # 50 clients for 10 s: a smoke run
    python bench/load.py --setup single --seconds 30 --clients 100

Everything runs as real processes over loopback (127.0.0.1 only) and stops by itself:

- ``single``: one ``playalter serve --workers 2`` on SQLite, rate limits in memory;
- ``cluster``: a throwaway Postgres (tests/scale_servers.py) and Redis (tests/security_app.py), two API replicas
  (``serve --workers 0``) and two ``playalter worker --concurrency 1``; clients alternate between the replicas.

Each of ``--clients`` clients loops until ``--seconds`` have passed, on ``GET /api/workflows`` (authenticated,
rate-limited, audited) and ``GET /health``; meanwhile one privacy job (``POST /api/batch/process``, one 256 px
photo, blur) is submitted every ``1 / --jobs-per-second`` s. Then a burst of twice ``server.queue_size`` jobs at once
checks that the excess is refused promptly (503 with Retry-After), not left to time out.

After a warm-up (``WARM_UP_SECONDS`` of the same load, its jobs waited for, so that the models are loaded), printed
per deployment: requests per second, p50/p95/p99 latency of the cheap requests and of the job submissions,
every (status, error code) seen, the answers outside the allowed set (2xx, 429 and 503 with Retry-After; a client
timeout or a dropped connection counts too), how many jobs completed, the burst's refusals and its slowest answer,
and each server process's resident memory after a warm-up and at the end (growth past 10 % flagged). The clients
run in this process, on the same cores as the servers: on a small machine the figures measure the sharing too.
Connections per address are not capped (``server.max_connections_per_ip=0``): every client comes from 127.0.0.1,
as from a reverse proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from PIL import Image

from deployment import Deployment  # bench/deployment.py; it also puts tests/ on sys.path
from scale_servers import PostgresCluster, require_postgres  # noqa: E402
from security_app import RedisServer  # noqa: E402

QUEUE_SIZE = 16
REQUEST_TIMEOUT_SECONDS = 30.0
WARM_UP_SECONDS = 5.0
MEMORY_GROWTH_FLAG = 0.10
ALLOWED_REFUSALS = (429, 503)  # with Retry-After
SETTINGS = {"PLAYALTER__SERVER__QUEUE_SIZE": str(QUEUE_SIZE),
            "PLAYALTER__SERVER__MAX_CONNECTIONS_PER_IP": "0",
            "PLAYALTER__RATE_LIMIT__ENTERPRISE_PER_HOUR": "100000000",
            "PLAYALTER__RATE_LIMIT__MAX_CONCURRENT_JOBS": "1000"}


def photo() -> str:
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((256, 256)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@dataclass
class Tally:
    """What the clients saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"cheap": [], "job": []})
    answers: Counter = field(default_factory=Counter)  # (status, error code) -> count
    outside: Counter = field(default_factory=Counter)  # answers not allowed -> count
    job_ids: list[tuple[str, str]] = field(default_factory=list)  # (base, job id)

    def record(self, kind: str, seconds: float, status: int, code: str, retry_after: bool) -> None:
        self.latencies[kind].append(seconds)
        self.answers[(status, code)] += 1
        if status >= 400 and not (status in ALLOWED_REFUSALS and retry_after):
            self.outside[(status, code)] += 1


async def timed(session: aiohttp.ClientSession, tally: Tally, kind: str, method: str, url: str,
                **kwargs) -> dict | None:
    started = time.perf_counter()
    try:
        async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
                                   **kwargs) as response:
            body = await response.json(content_type=None)
            code = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
            tally.record(kind, time.perf_counter() - started, response.status, code, "Retry-After" in response.headers)
            return body if response.status < 300 else None
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        tally.record(kind, time.perf_counter() - started, 0, type(error).__name__, False)
        return None


async def drive(bases: list[str], key: str, clients: int, seconds: float, jobs_per_second: float,
                image: str) -> tuple[Tally, float]:
    """The clients and the job stream for ``seconds``; (what they saw, the seconds it took)."""
    tally, headers = Tally(), {"Authorization": f"Bearer {key}"}
    job_body = {"operation": "privacy", "images_base64": [image], "parameters": {"mask_type": "blur"}}
    connector = aiohttp.TCPConnector(limit=clients + 16)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        deadline = time.monotonic() + seconds

        async def client(number: int) -> None:
            base = bases[number % len(bases)]
            turn = 0
            while time.monotonic() < deadline:
                path = "/health" if turn % 4 == 3 else "/api/workflows"
                await timed(session, tally, "cheap", "GET", base + path)
                turn += 1

        async def submit(base: str) -> None:
            job = await timed(session, tally, "job", "POST", f"{base}/api/batch/process", json=job_body)
            if job is not None:
                tally.job_ids.append((base, job["id"]))

        async def job_stream() -> None:  # on a fixed schedule, whatever each submission takes
            submissions, turn = [], 0
            while time.monotonic() < deadline:
                submissions.append(asyncio.create_task(submit(bases[turn % len(bases)])))
                turn += 1
                await asyncio.sleep(1.0 / jobs_per_second)
            await asyncio.gather(*submissions)

        started = time.perf_counter()
        await asyncio.gather(job_stream(), *(client(number) for number in range(clients)))
        return tally, time.perf_counter() - started


async def burst(bases: list[str], key: str, image: str) -> Tally:
    """Twice the queue's size of jobs at once on the first replica: the excess must be refused promptly."""
    tally = Tally()
    body = {"operation": "privacy", "images_base64": [image], "parameters": {"mask_type": "blur"}}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
        await asyncio.gather(*(timed(session, tally, "job", "POST", f"{bases[0]}/api/batch/process", json=body)
                               for _ in range(2 * QUEUE_SIZE)))
    return tally


async def completed_jobs(tally: Tally, key: str, wait_seconds: float) -> Counter:
    """The final (or last seen) state of every submitted job, waiting up to ``wait_seconds`` for them."""
    states: Counter = Counter()
    deadline = time.monotonic() + wait_seconds
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
        for base, job_id in tally.job_ids:
            while True:
                async with session.get(f"{base}/api/jobs/{job_id}") as response:
                    state = (await response.json())["state"] if response.status == 200 else f"http_{response.status}"
                if state in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            states[state] += 1
    return states


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def report(name: str, tally: Tally, seconds: float, states: Counter, bursted: Tally,
           memory: tuple[dict[str, float], dict[str, float]]) -> None:
    cheap, jobs = tally.latencies["cheap"], tally.latencies["job"]
    total = len(cheap) + len(jobs)
    print(f"\n== {name}: {total} requests in {seconds:.1f} s = {total / seconds:.0f} requests/s")
    for label, values in (("cheap requests", cheap), ("job submissions", jobs)):
        if values:
            print(f"  {label:16s} n={len(values):6d}  p50 {percentile(values, .5) * 1000:7.1f} ms  "
                  f"p95 {percentile(values, .95) * 1000:7.1f} ms  p99 {percentile(values, .99) * 1000:7.1f} ms")
    print("  answers: " + ", ".join(f"{status} {code or ''}".strip() + f" x{count}"
                                    for (status, code), count in sorted(tally.answers.items())))
    print(f"  outside the allowed answers: {dict(tally.outside) or 'none'}")
    print(f"  jobs of the stream: {dict(states)}")
    refused = sum(count for (status, _), count in bursted.answers.items() if status == 503)
    print(f"  burst of {2 * QUEUE_SIZE} jobs (server.queue_size={QUEUE_SIZE}): "
          + ", ".join(f"{status} {code}".strip() + f" x{count}" for (status, code), count in bursted.answers.items())
          + f"; {refused} refused, slowest answer {max(bursted.latencies['job']) * 1000:.0f} ms; "
          + f"outside the allowed: {dict(bursted.outside) or 'none'}")
    start, end = memory
    for process, megabytes in start.items():
        growth = (end.get(process, float("nan")) - megabytes) / megabytes
        flag = "  <-- grew past 10 %" if growth > MEMORY_GROWTH_FLAG else ""
        print(f"  memory {process:8s} {megabytes:7.1f} MB -> {end.get(process, float('nan')):7.1f} MB "
              f"({growth:+.1%}){flag}")


def run_setup(name: str, deployment: Deployment, bases: list[str], args, image: str) -> None:
    warm, _ = asyncio.run(drive(bases, deployment.key, min(args.clients, 20), WARM_UP_SECONDS, args.jobs_per_second,
                                image))
    asyncio.run(completed_jobs(warm, deployment.key, wait_seconds=120))  # models loaded: memory from here on
    before = deployment.memory_mb()
    tally, seconds = asyncio.run(drive(bases, deployment.key, args.clients, args.seconds, args.jobs_per_second,
                                       image))
    after = deployment.memory_mb()
    bursted = asyncio.run(burst(bases, deployment.key, image))
    states = asyncio.run(completed_jobs(tally, deployment.key, wait_seconds=120))
    report(name, tally, seconds, states, bursted, (before, after))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", choices=("single", "cluster", "both"), default="both")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--jobs-per-second", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="50 clients for 10 s")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds = 50, 10.0
    image = photo()
    print(f"{args.clients} clients for {args.seconds:g} s, {args.jobs_per_second:g} privacy job(s)/s, "
          f"{os.cpu_count()} CPU(s) shared by clients and servers")
    with tempfile.TemporaryDirectory() as folder:
        if args.setup in ("single", "both"):
            single = Deployment(Path(folder) / "single", SETTINGS)
            try:
                run_setup("one process (SQLite, serve --workers 2)", single, [single.serve("serve", 2)], args, image)
            finally:
                single.stop()
        if args.setup in ("cluster", "both"):
            postgres, redis = PostgresCluster(require_postgres()), RedisServer(Path(folder))
            cluster = Deployment(Path(folder) / "cluster", SETTINGS, postgres.create_database("load"), redis.url)
            try:
                bases = [cluster.serve("api1", 0), cluster.serve("api2", 0)]
                cluster.spawn("worker1", "worker", "--concurrency", "1")
                cluster.spawn("worker2", "worker", "--concurrency", "1")
                run_setup("two replicas + two workers (Postgres, Redis)", cluster, bases, args, image)
            finally:
                cluster.stop()
                redis.stop()
                postgres.destroy()


if __name__ == "__main__":
    main()
