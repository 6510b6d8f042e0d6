"""Two API replicas (``serve --workers 0``) and two queue workers (``playalter worker``) on one throwaway
Postgres cluster, as separate processes sharing a data folder: a batch crosses replicas, a worker killed
with kill -9 mid-item has its item finished elsewhere exactly once, concurrent audit appends keep one chain.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import psycopg
import pytest
import urllib.error
import urllib.request
from PIL import Image
from skimage import data as skimage_data

from ports import free_port
from scale_servers import PostgresCluster, require_postgres
from security_app import RedisServer
from server_app_helpers import COPY_WORKFLOW, parse_sse

pytestmark = pytest.mark.timeout(600)
LEASE_SECONDS = 4
REPO_MODELS = Path(__file__).resolve().parent.parent / "models"


def _png(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _photos(count: int, side: int) -> list[str]:
    """``count`` distinct real photos (the scikit-image astronaut, shifted and mirrored), ``side`` px."""
    photo = np.asarray(Image.fromarray(skimage_data.astronaut()).resize((side, side)))
    return [_png(np.roll(photo if index % 2 else photo[:, ::-1], index * 7, axis=1)) for index in range(count)]


class Cluster:
    def __init__(self, root: Path, url: str, redis_url: str):
        self.root, self.url = root, url
        (root / "workflows").mkdir()
        (root / "workflows" / "copy_image.json").write_text(json.dumps(COPY_WORKFLOW))
        (root / "input").mkdir()
        self.env = {**os.environ,
                    "PLAYALTER__DATABASE__URL": url,
                    "PLAYALTER__PATHS__DATA_DIR": str(root / "shared"),
                    "PLAYALTER__PATHS__INPUT_DIR": str(root / "input"),
                    "PLAYALTER__PATHS__OUTPUT_DIR": str(root / "output"),
                    "PLAYALTER__PATHS__WORKFLOWS_DIR": str(root / "workflows"),
                    "PLAYALTER__QUEUE__LEASE_SECONDS": str(LEASE_SECONDS),
                    "PLAYALTER__SERVER__ONNX_THREADS": "1",
                    "PLAYALTER__SECURITY__JWT_SECRET": "s" * 48,
                    "PLAYALTER__SECURITY__AUDIT_CHECKPOINT_SECRET": "a" * 48,
                    "PLAYALTER__RATE_LIMIT__STORAGE": redis_url,
                    "PLAYALTER__RATE_LIMIT__BASIC_PER_HOUR": "6",
                    "PLAYALTER__RATE_LIMIT__PREMIUM_PER_HOUR": "100000",
                    "PLAYALTER__SERVER__METRICS_PUBLIC": "true",
                    "PLAYALTER__RATE_LIMIT__MAX_CONCURRENT_JOBS": "50"}
        if REPO_MODELS.is_dir():
            self.env["PLAYALTER__PATHS__MODELS_DIR"] = str(REPO_MODELS)
        self.processes: dict[str, subprocess.Popen] = {}
        self.cli("db", "upgrade")
        created = self.cli("keys", "create", "--tier", "premium", "--name", "scale test", "--json")
        assert created.returncode == 0, created.stderr
        self.key = json.loads(created.stdout)["api_key"]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "playalter.runner.cli.main", *args], env=self.env,
                              capture_output=True, text=True, timeout=120)

    def start(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.log", "w")
        env = {**self.env, "PLAYALTER__LOGGING__DIR": str(self.root / "logs" / name)}
        self.processes[name] = subprocess.Popen([sys.executable, "-m", "playalter.runner.cli.main", *args], env=env,
                                                stdout=log, stderr=subprocess.STDOUT)

    def start_api(self, name: str) -> str:
        port = free_port()
        self.start(name, "serve", "--workers", "0", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http("GET", f"{base}/health", {}, timeout=5)[0] == 200:
                    return base
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"{name} did not start:\n{(self.root / f'{name}.log').read_text()[-3000:]}")

    def worker_pids(self) -> dict[str, str]:
        """Worker names (host-pid) of the live worker processes, by our process name."""
        host = os.uname().nodename
        return {name: f"{host}-{process.pid}" for name, process in self.processes.items()
                if name.startswith("worker") and process.poll() is None}

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def two_replicas_two_workers(tmp_path_factory, name: str):
    """A throwaway Postgres and Redis, two API replicas (``api1``, ``api2``: ``--workers 0``) and two workers."""
    pg = PostgresCluster(require_postgres())
    redis = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        cluster = Cluster(tmp_path_factory.mktemp(name), pg.create_database("playalter"), redis.url)
        try:
            cluster.pg = pg
            cluster.api = [cluster.start_api("api1"), cluster.start_api("api2")]
            cluster.start("worker1", "worker", "--concurrency", "1")
            cluster.start("worker2", "worker", "--concurrency", "1")
            yield cluster
        finally:
            cluster.stop_all()
    finally:
        redis.stop()
        pg.destroy()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with two_replicas_two_workers(tmp_path_factory, "scale") as running:
        yield running


def http(method: str, url: str, headers: dict, body: dict | None = None, timeout: float = 120) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, headers={**headers, "Content-Type": "application/json"},
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _auth(cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.key}"}


def _rows(cluster, sql: str, *params):
    with psycopg.connect(cluster.url) as connection:
        return connection.execute(sql, params).fetchall()


def _follow(base: str, headers: dict, job_id: str) -> list[tuple[str, dict]]:
    status, body = http("GET", f"{base}/api/jobs/{job_id}/events", headers)
    assert status == 200
    return parse_sse(body.decode())


def test_a_batch_submitted_to_one_replica_is_followed_and_downloaded_on_the_other(cluster):
    api1, api2 = cluster.api
    job_id = _submit(cluster, api1, 10, 256, {"mask_type": "blur"})
    events = _follow(api2, _auth(cluster), job_id)
    assert events[-1][0] == "done"
    assert events[-1][1]["state"] == "completed" and events[-1][1]["progress"]["completed"] == 10
    finished_items = {data["index"] for event, data in events if event == "item" and data["state"] == "completed"}
    assert events[0][0] == "job" and (finished_items or events[0][1]["state"] == "completed")
    status, archive = http("GET", f"{api2}/api/jobs/{job_id}/download", _auth(cluster))
    assert status == 200
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert {name.split("/")[0] for name in names if "/" in name} >= {f"item-{index}" for index in range(10)} or \
        len([name for name in names if name.endswith(".png")]) >= 10
    workers = {row[0] for row in _rows(cluster, "SELECT worker FROM items WHERE job_id = %s", job_id)}
    assert workers <= set(cluster.worker_pids().values()) and len(workers) >= 1
    audited = _rows(cluster, "SELECT parameters FROM audit_log WHERE operation = 'job.privacy'")
    indexes = sorted(json.loads(row[0])["item"] for row in audited if json.loads(row[0])["job_id"] == job_id)
    assert indexes == list(range(10))


def _act_on_a_running_item(cluster, base: str, act, replacement_suffix: str) -> tuple[str, int, str]:
    """(job id, item index, worker) of an item caught running on one of the cluster's workers when ``act(name,
    item)`` acted on that worker's process: 4-item jobs are submitted on ``base`` (at most 5) until ``act``
    answers that it landed while the item ran (items take about a second). Each worker acted on is replaced
    (its name + ``replacement_suffix``), keeping two workers for what follows."""
    for _ in range(5):
        job_id = _submit(cluster, base, 4, 2048, {"mask_type": "blur"})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = _rows(cluster, "SELECT idx, worker FROM items WHERE job_id = %s AND state = 'running'", job_id)
            owners = {worker: name for name, worker in cluster.worker_pids().items()}
            if running and running[0][1] in owners:
                name, item = owners[running[0][1]], (job_id, running[0][0], running[0][1])
                landed = act(name, item)
                cluster.start(f"{name}{replacement_suffix}", "worker", "--concurrency", "1")
                if landed:
                    return item
                break
            if _rows(cluster, "SELECT state FROM jobs WHERE id = %s", job_id)[0][0] in ("completed", "failed"):
                break
            time.sleep(0.05)
    raise AssertionError("no item was caught running")


def test_a_worker_killed_mid_item_has_the_item_finished_by_another_exactly_once(cluster):
    api1, api2 = cluster.api

    def kill(name: str, item: tuple[str, int, str]) -> bool:
        os.kill(cluster.processes[name].pid, signal.SIGKILL)
        cluster.processes[name].wait()
        job_id, index, worker = item
        state = _rows(cluster, "SELECT state, worker FROM items WHERE job_id = %s AND idx = %s", job_id, index)[0]
        return state == ("running", worker)  # else the item had finished before the kill

    job_id, index, dead_worker = _act_on_a_running_item(cluster, api1, kill, "r")
    events = _follow(api2, _auth(cluster), job_id)
    assert events[-1][0] == "done" and events[-1][1]["state"] == "completed"
    state, attempts, worker = _rows(cluster, "SELECT state, attempts, worker FROM items WHERE job_id = %s AND idx = %s",
                                    job_id, index)[0]
    assert (state, attempts) == ("completed", 2) and worker != dead_worker
    audited = [json.loads(row[0]) for row in _rows(cluster, "SELECT parameters FROM audit_log"
                                                            " WHERE operation = 'job.privacy'")]
    assert sorted(row["item"] for row in audited if row["job_id"] == job_id) == [0, 1, 2, 3]


def test_cancelling_on_one_replica_stops_the_item_running_on_a_worker(cluster):
    api1, api2 = cluster.api
    job_id = _submit(cluster, api1, 2, 4096, {"mask_type": "blur"})
    deadline = time.monotonic() + 120
    while not _rows(cluster, "SELECT 1 FROM items WHERE job_id = %s AND state = 'running'", job_id):
        assert time.monotonic() < deadline, "no item started"
        time.sleep(0.05)
    status, body = http("DELETE", f"{api2}/api/jobs/{job_id}", _auth(cluster))
    assert status == 200, body
    events = _follow(api1, _auth(cluster), job_id)
    assert events[-1][0] == "done" and events[-1][1]["state"] == "cancelled"
    items = _rows(cluster, "SELECT state, attempts FROM items WHERE job_id = %s ORDER BY idx", job_id)
    assert {state for state, _ in items} == {"cancelled"} and any(attempts == 1 for _, attempts in items)
    audited = [json.loads(row[0]) for row in _rows(cluster, "SELECT parameters FROM audit_log"
                                                            " WHERE operation = 'job.privacy' AND outcome = 'cancelled'")]
    assert any(row["job_id"] == job_id for row in audited)


def test_rate_limits_are_exact_across_the_replicas(cluster):
    api1, api2 = cluster.api
    created = json.loads(cluster.cli("keys", "create", "--tier", "basic", "--name", "limited", "--json").stdout)
    key = {"Authorization": f"Bearer {created['api_key']}"}

    def batch(base: str, count: int) -> int:
        return http("POST", f"{base}/api/batch/process", key, {"operation": "privacy", "images_base64":
                                                                _photos(count, 96), "parameters": {}})[0]

    assert batch(api1, 4) == 202
    assert batch(api2, 4) == 429  # 4 + 4 > 6 per hour, counted in Redis by both replicas
    assert batch(api2, 2) == 202
    assert batch(api1, 1) == 429


def test_ready_and_metrics_report_the_queue_the_workers_and_the_items(cluster):
    deadline = time.monotonic() + 120  # the batches of the tests before have ended
    while _rows(cluster, "SELECT COUNT(*) FROM items WHERE state IN ('queued', 'running')")[0][0]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status, body = http("GET", f"{cluster.api[1]}/ready", {})
    checks = json.loads(body)["checks"]
    assert status == 200 and {"databases", "storage", "queue", "rate_limit_storage"} <= set(checks)
    assert "2 live worker(s)" in checks["queue"]["detail"]
    status, body = http("GET", f"{cluster.api[0]}/metrics", {})
    assert status == 200
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
              for line in body.decode().splitlines() if line.startswith("playalter_")}
    waiting = _rows(cluster, "SELECT COUNT(*) FROM procrastinate_jobs WHERE status = 'todo'")[0][0]
    assert values["playalter_queue_depth"] == waiting and values["playalter_queue_workers"] == 2
    completed = _rows(cluster, "SELECT COUNT(*) FROM items WHERE state = 'completed'")[0][0]
    assert values['playalter_items{state="completed"}'] == completed > 0
    rates = [value for name, value in values.items() if name.startswith("playalter_worker_items_per_second{")]
    assert rates and all(rate > 0 for rate in rates)


def _submit(cluster, base: str, count: int, side: int, parameters: dict | None = None) -> str:
    """Admit a privacy batch of ``count`` photos of ``side`` px on replica ``base``; the job id."""
    status, body = http("POST", f"{base}/api/batch/process", _auth(cluster),
                        {"operation": "privacy", "images_base64": _photos(count, side),
                         "parameters": parameters or {}})
    assert status == 202, body
    return json.loads(body)["id"]


def _finished(cluster, base: str, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = http("GET", f"{base}/api/jobs/{job_id}", _auth(cluster), timeout=10)
        except OSError:
            status = 0
        if status == 200 and json.loads(body)["state"] in ("completed", "failed", "cancelled"):
            return json.loads(body)
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish")


def _audited_items(cluster, job_id: str) -> list[int]:
    rows = [json.loads(row[0]) for row in _rows(cluster, "SELECT parameters FROM audit_log"
                                                         " WHERE operation LIKE 'job.%%'")]
    return sorted(row["item"] for row in rows if row["job_id"] == job_id)


def test_a_postgres_restart_during_a_batch_loses_no_admitted_item(cluster):
    job_id = _submit(cluster, cluster.api[0], 8, 1024)
    deadline = time.monotonic() + 120
    while not _rows(cluster, "SELECT 1 FROM items WHERE job_id = %s AND state = 'completed'", job_id):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cluster.pg.stop("fast")
    time.sleep(2)
    cluster.pg.start()
    job = _finished(cluster, cluster.api[1], job_id)
    assert job["state"] == "completed" and job["progress"]["completed"] == 8, job
    assert _audited_items(cluster, job_id) == list(range(8))


def test_a_replica_killed_after_admitting_a_job_leaves_it_to_the_other(cluster):
    job_id = _submit(cluster, cluster.api[0], 4, 512)
    os.kill(cluster.processes["api1"].pid, signal.SIGKILL)
    cluster.processes["api1"].wait()
    job = _finished(cluster, cluster.api[1], job_id)
    assert job["state"] == "completed" and job["progress"]["completed"] == 4
    status, archive = http("GET", f"{cluster.api[1]}/api/jobs/{job_id}/download", _auth(cluster))
    assert status == 200 and len([name for name in zipfile.ZipFile(io.BytesIO(archive)).namelist()
                                  if name.endswith(".png")]) == 4
    cluster.api[0] = cluster.start_api("api1b")


def test_concurrent_audit_appends_from_both_replicas_keep_one_chain(cluster):
    from concurrent.futures import ThreadPoolExecutor

    before = _rows(cluster, "SELECT COUNT(*) FROM audit_log")[0][0]

    def call(number: int) -> int:
        return http("GET", f"{cluster.api[number % 2]}/api/auth/me", _auth(cluster))[0]

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(call, range(120)))
    assert statuses == [200] * 120
    ids = [row[0] for row in _rows(cluster, "SELECT id FROM audit_log ORDER BY id")]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) >= before + 120
    verified = cluster.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{len(ids)} rows, chain intact" in verified.stdout
    with psycopg.connect(cluster.url, autocommit=True) as connection:  # tampering is caught
        connection.execute("UPDATE audit_log SET outcome = 'forged' WHERE id = 3")
    tampered = cluster.cli("audit", "verify")
    assert tampered.returncode == 1 and "row 3 was modified" in tampered.stdout


def test_keys_and_token_revocation_are_shared_by_the_replicas(cluster):
    api1, api2 = cluster.api
    created = json.loads(cluster.cli("keys", "create", "--tier", "basic", "--name", "revoked", "--json").stdout)
    status, body = http("POST", f"{api1}/api/auth/token", {"Authorization": f"Bearer {created['api_key']}"})
    assert status == 200, body
    token = {"Authorization": f"Bearer {json.loads(body)['token']}"}
    assert http("GET", f"{api2}/api/auth/me", token)[0] == 200
    assert cluster.cli("keys", "revoke", created["key_id"]).returncode == 0
    status, body = http("GET", f"{api2}/api/auth/me", token)
    assert status == 401 and json.loads(body)["error"]["code"]
    assert http("GET", f"{api1}/api/auth/me", {"Authorization": f"Bearer {created['api_key']}"})[0] == 401


def test_sigterm_to_a_worker_finishes_its_item_and_exits_without_waiting_for_the_lease(cluster):
    def terminate(name: str, item: tuple[str, int, str]) -> bool:
        cluster.processes[name].send_signal(signal.SIGTERM)
        assert cluster.processes[name].wait(timeout=60) == 0
        return True

    job_id, index, worker = _act_on_a_running_item(cluster, cluster.api[0], terminate, "t")
    # recorded by the stopping worker itself, once: not left to the lease and another worker
    assert _rows(cluster, "SELECT state, attempts, worker FROM items WHERE job_id = %s AND idx = %s",
                 job_id, index)[0] == ("completed", 1, worker)
    assert _finished(cluster, cluster.api[1], job_id)["progress"]["completed"] == 4
    assert _audited_items(cluster, job_id) == [0, 1, 2, 3]
