"""A full disk under the data folder: every request answered promptly (507, never a hang or a 500), nothing half
written, no job or audit row lost, /ready and /health telling, and the service back by itself once space returns.

The data folder is a real 6 MB tmpfs (mounting needs root and a container that allows it; without, that test
skips with the reason). The reserve test runs anywhere: it sets ``storage.min_free_mb`` above the free space of
the ordinary disk.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess

import pytest

from playalter.runner.server.http.auth import SECURITY
from playalter.runner.server.jobs.dispatcher import DISPATCHER
from server_app_helpers import b64, bearer, decode_image, make_settings, png_bytes, running_app, wait_finished

ANSWER_SECONDS = 30.0  # a request not answered in this long counts as a hang
CHUNK = b"\0" * (64 << 10)


@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 6 MB tmpfs here ({mounted.stderr.strip()}): needs root where mount is allowed")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(path, leave_bytes: int = 0) -> None:
    """Write ``path`` until the disk is full, then give ``leave_bytes`` back."""
    with open(path, "ab", buffering=0) as handle:
        try:
            while True:
                handle.write(CHUNK)
        except OSError:
            pass
    if leave_bytes:
        with open(path, "r+b") as handle:
            handle.truncate(max(0, path.stat().st_size - leave_bytes))


async def answered(request) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of a request that must be answered within ANSWER_SECONDS."""
    response = await asyncio.wait_for(request, ANSWER_SECONDS)
    return response.status, await response.json(), response.headers


def test_a_full_tmpfs_is_answered_507_and_the_service_resumes_by_itself(tmp_path, small_disk, caplog):
    caplog.set_level(logging.INFO, logger="playalter")
    settings = make_settings(tmp_path, PATHS__DATA_DIR=small_disk / "data", STORAGE__MIN_FREE_MB=1)
    image = png_bytes(256, 256, seed=1)  # noise: about 200 KB, as large as a PNG of it can be
    ballast = small_disk / "ballast"

    async def scenario():
        async with running_app(settings) as (client, app, key):
            store, audit = app[DISPATCHER].store, app[SECURITY].audit

            async def run_copy():
                return await answered(client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                                  json={"images": {"image": b64(image)}}))

            status, body, _ = await run_copy()
            assert status == 200, body

            fill(ballast)  # below the reserve: refused before anything is written
            jobs_before = sorted(path.name for path in store.root.iterdir())
            status, body, headers = await run_copy()
            assert (status, body["error"]["code"]) == (507, "insufficient_storage")
            assert int(headers["Retry-After"]) > 0
            ready = await client.get("/ready")
            health = await (await client.get("/health")).json()
            assert ready.status == 503 and (await ready.json())["checks"]["disk_space"]["status"] == "down"
            assert health["status"] == "degraded" and health["checks"]["disk_space"]["status"] == "down"

            store.disk.min_free_mb = 0  # no reserve: the writes themselves meet the full disk, at several points
            outcomes = []
            for leave_kb in range(0, 800, 32):
                ballast.unlink()
                fill(ballast, leave_kb << 10)
                status, body, _ = await run_copy()
                assert status in (200, 507), body
                outcomes.append(status)
                if status == 507:
                    assert body["error"]["code"] == "insufficient_storage"
            assert 507 in outcomes

            ballast.unlink()  # space comes back: the service resumes, nothing restarted
            store.disk.min_free_mb = 1
            assert (await client.get("/ready")).status == 200
            status, body, _ = await run_copy()
            assert status == 200 and decode_image(body["images"][0]["base64"]).shape == (256, 256, 3)

            # every job that was created ended, each completed one with its whole result, none half written
            for job_id in (path.name for path in store.root.iterdir() if not path.name.startswith(".")):
                job = await wait_finished(client, key, job_id, timeout=ANSWER_SECONDS)
                if job["state"] == "completed":
                    download = await client.get(f"/api/jobs/{job_id}/download", headers=bearer(key))
                    assert download.status == 200
                else:
                    assert job["items"][0]["error"]["code"] == "insufficient_storage", job
            assert not list(store.root.rglob("*.part")) and not list(store.root.rglob(".*.part"))
            assert not [name for name in jobs_before if not (store.root / name).exists()]
            assert audit.verify().ok

    asyncio.run(scenario())
    outages = [record for record in caplog.records if getattr(record, "event", "") == "outage_started"]
    assert [record.fault for record in outages] == ["storage_full"]  # one warning, not one per request
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_below_the_free_space_reserve_new_work_is_refused_and_resumes(tmp_path):
    settings = make_settings(tmp_path)

    async def scenario():
        async with running_app(settings) as (client, app, key):
            disk = app[DISPATCHER].store.disk
            disk.min_free_mb = disk.free_mb() + 1024  # as if the disk were nearly full
            response = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                         json={"images": {"image": b64(png_bytes())}})
            body = await response.json()
            assert (response.status, body["error"]["code"]) == (507, "insufficient_storage")
            assert str(tmp_path) not in body["error"]["message"]
            assert not [path for path in app[DISPATCHER].store.root.iterdir() if not path.name.startswith(".")]
            assert (await client.get("/ready")).status == 503
            assert (await (await client.get("/health")).json())["status"] == "degraded"

            disk.min_free_mb = 1
            assert (await client.get("/ready")).status == 200
            response = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                         json={"images": {"image": b64(png_bytes())}})
            assert response.status == 200

    asyncio.run(scenario())


def test_a_log_file_on_a_full_disk_drops_records_without_failing_the_caller(tmp_path, small_disk, capsys):
    from playalter.runner.server.logs import LogFile

    handler = LogFile(str(small_disk / "general.jsonl"))
    logger = logging.getLogger("playalter.test_full_disk_log")
    logger.addHandler(handler)
    try:
        fill(small_disk / "ballast")
        for _ in range(200):  # more than any buffer: the writes really reach the full disk
            logger.warning("x" * 1000)
        assert handler.dropping
        (small_disk / "ballast").unlink()
        logger.warning("back")
        assert not handler.dropping
    finally:
        logger.removeHandler(handler)
        handler.close()
    stderr = capsys.readouterr().err
    assert stderr.count("cannot write general.jsonl") == 1 and "works again" in stderr
    assert "Traceback" not in stderr
    assert (small_disk / "general.jsonl").read_text().rstrip().endswith('"back"}') or "back" in (
        small_disk / "general.jsonl").read_text()
