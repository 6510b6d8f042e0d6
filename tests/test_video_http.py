"""The video job endpoints: multipart upload, admission limits, progress, cancellation, MP4 download, restart."""

from __future__ import annotations

import hashlib
import os
import json
import sqlite3
import time
import urllib.request
import uuid

import aiohttp
import pytest

from conftest import read_rgb
from mp4_clip import audio_codec, count_frames, write_clip
from test_server_restart import Server
from server_app_helpers import bearer, make_settings, parse_sse, running_app, wait_finished
from test_server_app import _audit_rows, error_of, run

from playalter.runner.server.http.auth import SECURITY
from playalter.runner.server.jobs.dispatcher import DISPATCHER

FRAMES = 12


@pytest.fixture(scope="module")
def clip(tmp_path_factory, t1_path):
    """12 frames (1 s at 12 fps) of the t1 group photo panning, with AAC audio."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", read_rgb(t1_path), frames=FRAMES, fps=12)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, t1_path):
    """10 s at 12 fps: long enough to be cancelled or killed half way."""
    return write_clip(tmp_path_factory.mktemp("long") / "long.mp4", read_rgb(t1_path), frames=120, fps=12)


def form(video: bytes | None, options: dict | str | None = None, **parts: bytes) -> aiohttp.FormData:
    data = aiohttp.FormData()
    if options is not None:
        data.add_field("options", options if isinstance(options, str) else json.dumps(options),
                       content_type="application/json")
    if video is not None:
        data.add_field("video", video, filename="clip.mp4", content_type="video/mp4")
    for name, value in parts.items():
        data.add_field(name, value, filename=f"{name}.bin")
    return data


def staged_files(app) -> list:
    folder = app[DISPATCHER].store.root / ".staging"
    return list(folder.iterdir()) if folder.is_dir() else []


def test_an_anonymisation_job_streams_progress_and_downloads_an_mp4_with_every_frame(tmp_path, clip):
    data = clip.read_bytes()

    async def scenario():
        async with running_app(make_settings(tmp_path, VIDEO__SECONDS_PER_UNIT=0.5)) as (client, app, key):
            answer = await client.post("/api/video/anonymize", headers=bearer(key),
                                       data=form(data, {"mask_type": "pixelate", "detect_every": 2}))
            assert answer.status == 202, await answer.text()
            job = await answer.json()
            assert answer.headers["Location"] == f"/api/jobs/{job['id']}"
            assert job["operation"] == "video.anonymize" and job["state"] in ("queued", "running")
            assert answer.headers["X-RateLimit-Remaining"] == str(2000 - 2)  # 1 s of video, 0.5 s per unit

            events = await client.get(f"/api/jobs/{job['id']}/events", headers=bearer(key))
            stream = parse_sse(await events.text())
            progress = [data for event, data in stream if event == "progress"]
            assert progress, stream
            assert progress[-1]["frames_done"] == progress[-1]["frames_total"] == FRAMES
            assert all(entry["fps"] > 0 and entry["value"] == entry["frames_done"] for entry in progress)
            assert stream[-1][0] == "done" and stream[-1][1]["state"] == "completed"

            finished = await wait_finished(client, key, job["id"])
            result = finished["items"][0]["result"]
            assert result["video"]["content_type"] == "video/mp4" and result["video"]["bytes"] > 0
            [report] = [entry["data"] for entry in result["json"] if entry["title"] == "video report"]
            assert report["tracks"], "the group photo's faces are tracked"

            download = await client.get(f"/api/jobs/{job['id']}/download", headers=bearer(key))
            assert download.status == 200 and download.content_type == "video/mp4"
            assert f"playalter-{job['id']}.mp4" in download.headers["Content-Disposition"]
            out = tmp_path / "out.mp4"
            out.write_bytes(await download.read())
            assert count_frames(out) == FRAMES
            assert audio_codec(out) == "aac"
            assert int(download.headers["Content-Length"]) == result["video"]["bytes"]

            assert not list((app[DISPATCHER].store.root / job["id"]).glob("*/input"))
            assert staged_files(app) == []
            audit = app[SECURITY].audit
            [row] = await _audit_rows(audit.db_path, "video.anonymize", count=1)
            assert json.loads(row["inputs"]) == [hashlib.sha256(data).hexdigest()]
            assert json.loads(row["parameters"])["mask_type"] == "pixelate" and row["outcome"] == "ok"
            [job_row] = await _audit_rows(audit.db_path, "job.video.anonymize", count=1)
            assert json.loads(job_row["inputs"]) == [hashlib.sha256(data).hexdigest()]
            assert job_row["outcome"] == "ok"

    run(scenario())


def test_uploads_that_are_too_large_undecodable_too_long_or_malformed_are_refused_and_cost_nothing(tmp_path, clip):
    data = clip.read_bytes()

    async def scenario():
        settings = make_settings(tmp_path, VIDEO__MAX_UPLOAD_MB=len(data) / (1 << 20) / 2)
        async with running_app(settings) as (client, app, key):
            refusals = [
                (form(data), (413, "video_too_large")),
                (form(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4), (422, "invalid_video")),
                (form(data[: len(data) // 3]), (422, "invalid_video")),  # truncated
                (form(None, {"mask_type": "blur"}), (400, "invalid_request")),
            ]
            for body, expected in refusals:
                response = await client.post("/api/video/anonymize", headers=bearer(key), data=body)
                assert await error_of(response) == expected
            truncated = await client.post("/api/video/anonymize", headers=bearer(key), data=form(data[:1000]))
            message = (await truncated.json())["error"]["message"]
            assert message.startswith("the uploaded video ") and ".part" not in message, message
            as_json = await client.post("/api/video/anonymize", headers=bearer(key), json={"video": "AAAA"})
            assert await error_of(as_json) == (415, "unsupported_media_type")
            remaining = as_json.headers["X-RateLimit-Remaining"]
            assert remaining == "2000", "refused uploads cost nothing"
            assert staged_files(app) == [] and app[DISPATCHER].store.count_by_state() == {}

        (tmp_path / "short").mkdir()
        async with running_app(make_settings(tmp_path / "short", VIDEO__MAX_DURATION_SECONDS=0.5)) as (client, app,
                                                                                                       key):
            too_long = await client.post("/api/video/anonymize", headers=bearer(key), data=form(data))
            status, code = await error_of(too_long)
            assert (status, code) == (422, "video_too_long")
            bad_option = await client.post("/api/video/anonymize", headers=bearer(key),
                                           data=form(data, {"mask_type": "glitter"}))
            body = await bad_option.json()
            assert bad_option.status == 400 and body["error"]["message"].startswith("options.mask_type")
            not_json = await client.post("/api/video/anonymize", headers=bearer(key), data=form(data, "{nope"))
            assert await error_of(not_json) == (400, "invalid_json")
            unexpected = await client.post("/api/video/anonymize", headers=bearer(key),
                                           data=form(data, None, extra=b"x"))
            assert await error_of(unexpected) == (400, "invalid_request")
            assert staged_files(app) == [] and app[DISPATCHER].store.count_by_state() == {}

    run(scenario())


def test_a_malformed_multipart_body_is_400_and_stages_nothing(tmp_path, clip):
    """Each of these was a 500: aiohttp's multipart reader raises ValueError or BadHttpMessage on them."""
    head = b'--zzz\r\nContent-Disposition: form-data; name="video"; filename="clip.mp4"\r\n\r\n'
    bodies = [
        ("multipart/form-data", b"--zzz\r\n"),  # no boundary parameter
        ("multipart/form-data; boundary=zzz", b"garbage" * 100),  # the boundary never comes
        ("multipart/form-data; boundary=zzz", head + clip.read_bytes()[:3000]),  # cut short inside the part
        ("multipart/form-data; boundary=zzz", head.replace(b"clip.mp4", b"a\x00b.mp4") + b"x\r\n--zzz--\r\n"),
    ]

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            for content_type, body in bodies:
                response = await client.post("/api/video/anonymize", data=body,
                                             headers={**bearer(key), "Content-Type": content_type})
                assert await error_of(response) == (400, "invalid_request"), body[:60]
            assert staged_files(app) == [] and app[DISPATCHER].store.count_by_state() == {}

    run(scenario())


def test_video_jobs_need_a_key_with_the_scope_and_other_keys_cannot_see_them(tmp_path, clip):
    data = clip.read_bytes()

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, admin):
            anonymous = await client.post("/api/video/anonymize", data=form(data))
            assert anonymous.status == 401
            created = await client.post("/api/keys", headers=bearer(admin),
                                        json={"name": "no privacy", "scopes": ["face:analyze", "jobs:read"]})
            other = (await created.json())["api_key"]
            refused = await client.post("/api/video/anonymize", headers=bearer(other), data=form(data))
            assert await error_of(refused) == (403, "insufficient_scope")

            job = await (await client.post("/api/video/anonymize", headers=bearer(admin), data=form(data))).json()
            hidden = await client.get(f"/api/jobs/{job['id']}/download", headers=bearer(other))
            assert await error_of(hidden) == (404, "job_not_found")
            await wait_finished(client, admin, job["id"])

    run(scenario())


def test_a_cancelled_video_job_stops_and_leaves_no_video(tmp_path, long_clip):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            job = await (await client.post("/api/video/anonymize", headers=bearer(key),
                                           data=form(long_clip.read_bytes()))).json()
            events = await client.get(f"/api/jobs/{job['id']}/events", headers=bearer(key))
            async for line in events.content:  # wait until the pipeline has started on frames
                if line.startswith(b"event: progress"):
                    break
            cancelled = await client.delete(f"/api/jobs/{job['id']}", headers=bearer(key))
            assert cancelled.status == 200
            events.close()
            finished = await wait_finished(client, key, job["id"])
            assert finished["state"] == "cancelled"
            assert finished["items"][0]["state"] == "cancelled"
            download = await client.get(f"/api/jobs/{job['id']}/download", headers=bearer(key))
            assert await error_of(download) == (409, "no_result")
            item_dir = app[DISPATCHER].store.item_dir(job["id"], 0)
            assert list(item_dir.rglob("*.mp4")) == [], "no video, finished or partial, is left"

    run(scenario())


def _post_multipart(url: str, key: str, video: bytes) -> dict:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"clip.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + video + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {key}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
        return json.loads(response.read())


def test_a_video_job_survives_kill_9_and_completes_after_the_restart(tmp_path, long_clip):
    env = {**os.environ, "PLAYALTER__PATHS__DATA_DIR": str(tmp_path / "data")}
    first = Server(tmp_path, env)
    try:
        key = first.admin_key
        job = _post_multipart(f"{first.url}/api/video/anonymize", key, long_clip.read_bytes())
        deadline = time.monotonic() + 120
        while first.call("GET", f"/api/jobs/{job['id']}", key)["state"] != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # some frames in
        first.kill()
    finally:
        first.stop()
    with sqlite3.connect(tmp_path / "data" / "jobs.sqlite3") as db:
        assert db.execute("SELECT state FROM items WHERE job_id = ?", (job["id"],)).fetchone()[0] == "running"
    (tmp_path / "data" / "jobs" / ".staging").mkdir(exist_ok=True)
    (tmp_path / "data" / "jobs" / ".staging" / "cut-off.part").write_bytes(b"half an upload")

    second = Server(tmp_path, env)
    try:
        deadline = time.monotonic() + 300
        while (state := second.call("GET", f"/api/jobs/{job['id']}", key))["state"] not in (
                "completed", "failed", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state["state"] == "completed", state
        request = urllib.request.Request(f"{second.url}/api/jobs/{job['id']}/download",
                                         headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            (tmp_path / "resumed.mp4").write_bytes(response.read())
        assert count_frames(tmp_path / "resumed.mp4") == 120
        assert not (tmp_path / "data" / "jobs" / ".staging").exists(), "cut-off uploads are deleted at start-up"
    finally:
        second.stop()


def test_too_many_concurrent_jobs_are_refused_before_the_upload_is_read(tmp_path, clip, long_clip):
    async def scenario():
        async with running_app(make_settings(tmp_path, RATE_LIMIT__MAX_CONCURRENT_JOBS=1)) as (client, app, key):
            first = await client.post("/api/video/anonymize", headers=bearer(key), data=form(long_clip.read_bytes()))
            assert first.status == 202
            second = await client.post("/api/video/anonymize", headers=bearer(key), data=form(clip.read_bytes()))
            assert await error_of(second) == (429, "too_many_concurrent_jobs")
            assert staged_files(app) == []
            job_id = (await first.json())["id"]
            await client.delete(f"/api/jobs/{job_id}", headers=bearer(key))
            await wait_finished(client, key, job_id)

    run(scenario())


def test_a_swap_job_takes_the_source_photo_and_returns_the_video(tmp_path, clip, t1_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            video = clip.read_bytes()
            not_a_photo = await client.post("/api/video/swap", headers=bearer(key),
                                            data=form(video, None, source=b"GIF89a not really"))
            assert not_a_photo.status == 422
            refusal = (await not_a_photo.json())["error"]
            assert refusal["code"] == "invalid_image" and "the uploaded source" in refusal["message"]
            assert ".part" not in refusal["message"], "named by the upload, not by its staging file"
            without_source = await client.post("/api/video/swap", headers=bearer(key), data=form(video))
            status, code = await error_of(without_source)
            assert (status, code) == (400, "invalid_request")
            answer = await client.post("/api/video/swap", headers=bearer(key),
                                       data=form(video, {"target_tracks": [0], "crf": 30},
                                                 source=t1_path.read_bytes()))
            assert answer.status == 202, await answer.text()
            job = await wait_finished(client, key, (await answer.json())["id"], timeout=300)
            assert job["state"] == "completed", job
            download = await client.get(f"/api/jobs/{job['id']}/download", headers=bearer(key))
            (tmp_path / "swapped.mp4").write_bytes(await download.read())
            assert count_frames(tmp_path / "swapped.mp4") == FRAMES
            assert audio_codec(tmp_path / "swapped.mp4") == "aac"
            assert staged_files(app) == []

    run(scenario())
