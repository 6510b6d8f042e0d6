"""A 10-image batch job against 10 sequential single calls, through the HTTP service.

    python bench/server_batch.py [--operation detect|privacy|analyze] [--images 10] [--workers 2]
                                 [--onnx-threads N] [--repeats 3] [--photo PATH]

Both paths run in this process on a real local socket, against the same
server, after a warm-up call (models loaded). The single calls are
``POST /api/workflows/<workflow>/run`` one after another, each answering with
its images; the batch is one ``POST /api/batch/process``, followed to the end
over SSE, then its results fetched with the images embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from playalter.pipelines.core.config import load_settings
from playalter.runner.server.http.app import create_app
from playalter.runner.server.http.auth import SECURITY
from playalter.runner.server.jobs.operations import OPERATIONS


def default_photo() -> Path:
    spec = importlib.util.find_spec("insightface")
    if spec is None or spec.origin is None:
        raise SystemExit("pass --photo PATH (insightface's t1.jpg is not installed)")
    return Path(spec.origin).parent / "data" / "images" / "t1.jpg"


def _spin(count: int) -> None:
    total = 0
    for value in range(count):
        total += value


def parallel_capacity(count: int = 10_000_000) -> float:
    """How much faster two CPU-bound processes finish side by side than one after the other, right now.

    About 2 on an idle 2-core machine; near 1 when other load leaves no core free,
    and then no batch can beat sequential calls either.
    """
    started = time.perf_counter()
    _spin(count)
    _spin(count)
    sequential = time.perf_counter() - started
    processes = [multiprocessing.Process(target=_spin, args=(count,)) for _ in range(2)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return sequential / (time.perf_counter() - started)


async def single_calls(session, url, headers, workflow, image, parameters, count) -> float:
    started = time.perf_counter()
    for _ in range(count):
        body = {"images": {"image": image}, "inputs": parameters}
        async with session.post(f"{url}/api/workflows/{workflow}/run", json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
            await response.json()
    return time.perf_counter() - started


async def batch_call(session, url, headers, operation, image, count) -> float:
    started = time.perf_counter()
    body = {"images_base64": [image] * count, "operation": operation}
    async with session.post(f"{url}/api/batch/process", json=body, headers=headers) as response:
        assert response.status == 202, await response.text()
        job = await response.json()
    async with session.get(f"{url}/api/jobs/{job['id']}/events", headers=headers) as events:
        async for _ in events.content:
            pass
    async with session.get(f"{url}/api/jobs/{job['id']}?include_images=true", headers=headers) as response:
        finished = await response.json()
    assert finished["progress"]["completed"] == count, finished["progress"]
    return time.perf_counter() - started


async def main(args) -> None:
    photo = Path(args.photo) if args.photo else default_photo()
    image = base64.b64encode(photo.read_bytes()).decode("ascii")
    plan = OPERATIONS[args.operation].plan({name: spec.get("default") for name, spec in
                                            OPERATIONS[args.operation].parameters.items()})
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(environ={"PLAYALTER__PATHS__DATA_DIR": data_dir,
                                          "PLAYALTER__SERVER__WORKERS": str(args.workers),
                                          "PLAYALTER__SERVER__ONNX_THREADS": str(args.onnx_threads)})
        app = create_app(settings)
        headers = {"Authorization": f"Bearer {app[SECURITY].admin_key}"}
        server = TestServer(app)
        await server.start_server()
        url = str(server.make_url("")).rstrip("/")
        try:
            async with aiohttp.ClientSession() as session:
                await single_calls(session, url, headers, plan.workflow, image, plan.bindings, 1)  # warm-up
                sequential, batched = [], []
                for _ in range(args.repeats):
                    sequential.append(await single_calls(session, url, headers, plan.workflow, image,
                                                         plan.bindings, args.images))
                    batched.append(await batch_call(session, url, headers, args.operation, image, args.images))
        finally:
            await server.close()
    capacity = parallel_capacity()
    single, batch = statistics.median(sequential), statistics.median(batched)
    print(f"{args.images} x {photo.name} ({args.operation}: workflow {plan.workflow}), {args.workers} workers, "
          f"onnx threads {args.onnx_threads or 'cores / workers'}, median of {args.repeats}")
    print(f"{'path':<34}{'seconds':>10}{'per image':>12}{'speed-up':>10}")
    print(f"{'sequential single calls':<34}{single:>10.2f}{single / args.images:>12.3f}{1.0:>10.2f}")
    print(f"{'one batch job':<34}{batch:>10.2f}{batch / args.images:>12.3f}{single / batch:>10.2f}")
    print(f"control: two CPU-bound processes run {capacity:.2f}x faster side by side than in sequence "
          "on this machine now (the ceiling for any parallel speed-up)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operation", default="detect", choices=["detect", "privacy", "analyze"])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--onnx-threads", type=int, default=0,
                        help="onnxruntime threads per run (default 0: cores / workers)")
    parser.add_argument("--photo")
    asyncio.run(main(parser.parse_args()))
