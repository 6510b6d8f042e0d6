"""Scale-out cost and gain: queue workers on Postgres against the in-process pool.

    python bench/scale.py [--photos 20] [--repeats 10]

Everything runs as real processes on a throwaway Postgres cluster (tests/scale_servers.py), with one
onnxruntime thread per worker (``server.onnx_threads=1``) and the privacy (blur) operation on real photos
(../shared/fixtures/faces, else scikit-image's astronaut), resized to 512 px:
1. throughput: one API replica (``serve --workers 0``) and 1, then 2, ``playalter worker --concurrency 1``
   processes; each worker first runs a warm-up batch alone (models loaded once per worker; the first one is
   paused with SIGSTOP while the second warms up), then the same batch of ``--photos`` images is submitted and
   timed to the job's ``done`` event (its SSE stream followed, as a client would), from the POST (end to end)
   and from the POST's answer (processing: the replica validates every image and enqueues the items before
   answering, serial work no worker count changes); items per second and the 2/1 ratios are printed. The ratio needs
   two idle cores: on a machine shared with other work it measures the contention instead;
2. latency of one image through the synchronous endpoint (POST /api/privacy/mask), median of ``--repeats``
   warm calls: ``serve --workers 1`` on SQLite (in-process pool) against the Postgres replica + 1 worker; the
   difference is what queueing through procrastinate adds.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import signal
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

from deployment import ROOT, Deployment  # bench/deployment.py; it also puts tests/ on sys.path
from scale_servers import PostgresCluster, require_postgres  # noqa: E402

FACES = ROOT.parent / "shared" / "fixtures" / "faces"
SIDE = 512


def photos(count: int) -> list[str]:
    paths = sorted(path for path in FACES.glob("*") if path.suffix in (".jpg", ".png")) if FACES.is_dir() else []
    if paths:
        images = [Image.open(path).convert("RGB") for path in paths]
    else:
        from skimage import data

        images = [Image.fromarray(data.astronaut())]
    encoded = []
    for index in range(count):
        buffer = io.BytesIO()
        images[index % len(images)].resize((SIDE, SIDE)).save(buffer, format="PNG")
        encoded.append(base64.b64encode(buffer.getvalue()).decode())
    return encoded


def call(method: str, url: str, key: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


SETTINGS = {"PLAYALTER__RATE_LIMIT__ENTERPRISE_PER_HOUR": "1000000",
            "PLAYALTER__SERVER__QUEUE_SIZE": "1000", "PLAYALTER__SERVER__BATCH_MAX_IMAGES": "100"}


def batch_seconds(deployment: Deployment, base: str, images: list[str]) -> tuple[float, float]:
    """(seconds from the POST to the end of the job's event stream, followed as a client would; seconds of
    that after the POST was answered: the job admitted, its images validated and its items enqueued)."""
    started = time.perf_counter()
    job = call("POST", f"{base}/api/batch/process", deployment.key,
               {"operation": "privacy", "images_base64": images, "parameters": {"mask_type": "blur"}})
    admitted = time.perf_counter()
    request = urllib.request.Request(f"{base}/api/jobs/{job['id']}/events",
                                     headers={"Authorization": f"Bearer {deployment.key}"})
    with urllib.request.urlopen(request, timeout=600) as events:
        for line in events:
            if line.startswith(b"event: done"):
                break
    ended = time.perf_counter()
    job = call("GET", f"{base}/api/jobs/{job['id']}", deployment.key)
    assert job["progress"]["completed"] == len(images), job
    return ended - started, ended - admitted


def single_seconds(deployment: Deployment, base: str, image: str, repeats: int) -> float:
    """Median seconds of ``repeats`` warm calls of POST /api/privacy/mask on one image."""
    times = []
    for _ in range(repeats + 1):  # the first call warms up
        started = time.perf_counter()
        call("POST", f"{base}/api/privacy/mask", deployment.key, {"image_base64": image, "mask_type": "blur"})
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    images = photos(args.photos)
    pg = PostgresCluster(require_postgres())
    try:
        with tempfile.TemporaryDirectory() as folder:
            queued = Deployment(Path(folder) / "queued", SETTINGS, pg.create_database("bench"))
            local = Deployment(Path(folder) / "local", SETTINGS)
            try:
                api = queued.serve("api", 0)
                first = queued.spawn("worker1", "worker", "--concurrency", "1")
                batch_seconds(queued, api, images[:2])  # warm-up: models loaded
                one = batch_seconds(queued, api, images)
                first.send_signal(signal.SIGSTOP)  # paused (well within its lease) while the second one warms up
                queued.spawn("worker2", "worker", "--concurrency", "1")
                batch_seconds(queued, api, images[:2])
                first.send_signal(signal.SIGCONT)
                two = batch_seconds(queued, api, images)
                print(f"throughput, {len(images)} photos of {SIDE} px, privacy blur, 1 onnxruntime thread per worker")
                print("(end to end: from the POST; processing: from the POST's answer, once the API replica has")
                print(" validated the images and enqueued the items, which it does alone before any worker starts):")
                for label, index in (("end to end", 0), ("processing", 1)):
                    print(f"  {label}: 1 worker {len(images) / one[index]:6.2f} items/s ({one[index]:.2f} s), "
                          f"2 workers {len(images) / two[index]:6.2f} items/s ({two[index]:.2f} s), "
                          f"speed-up {one[index] / two[index]:.2f}x")
                queued.stop()
                api = queued.serve("api", 0)
                queued.spawn("worker1", "worker", "--concurrency", "1")
                through_queue = single_seconds(queued, api, images[0], args.repeats)
                in_process = single_seconds(local, local.serve("serve", 1), images[0], args.repeats)
                print(f"one image, POST /api/privacy/mask, median of {args.repeats} warm calls:")
                print(f"  in-process pool (SQLite) : {in_process * 1000:7.1f} ms")
                print(f"  queue (Postgres + worker): {through_queue * 1000:7.1f} ms"
                      f"  (+{(through_queue - in_process) * 1000:.1f} ms)")
            finally:
                queued.stop()
                local.stop()
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()
