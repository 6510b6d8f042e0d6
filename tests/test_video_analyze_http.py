"""POST /api/video/analyze: a video of one person measured over sampled frames and fused, as a job with
progress; the fused answer has the shape of the fused photos' answer and less landmark noise than one
frame's; a corrupt or wrongly-shaped upload is 4xx; no face or another person fails the job by name.
Also the sampling itself (pipelines/video/measurement_frames.py): progress, cancellation, display rotation."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile

import cv2
import numpy as np
import pytest

from playalter.pipelines.core.errors import VideoCancelledError
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.engine.measurement_fusion import MAX_FRAMES
from playalter.pipelines.video.measurement_frames import DEFAULT_FRAMES, measurement_frames
from playalter.runner.server import schemas
from playalter.runner.server.http.auth import SECURITY

from conftest import requires_face_mesh
from mp4_clip import write_clip
from server_app_helpers import bearer, make_settings, parse_sse, running_app, wait_finished
from test_server_app import _audit_rows, error_of
from test_video_http import form
from video_clips import write_clip as write_frames

pytestmark = requires_face_mesh


@pytest.fixture(scope="module")
def head_clip(astronaut_image, tmp_path_factory):
    """8 frames of the astronaut's head, the window sliding a little (H.264, no audio)."""
    return write_clip(tmp_path_factory.mktemp("analyze") / "head.mp4",
                      np.ascontiguousarray(astronaut_image[0:280, 90:370]), frames=8, width=320, height=320,
                      audio=False)


def test_sampling_reports_progress_and_stops_when_cancelled(head_clip):
    reported = []
    frames, sampled = measurement_frames(head_clip, 4, progress=lambda done, total: reported.append((done, total)))
    assert sampled == 4 and [frame.name for frame in frames] == ["frame 0", "frame 2", "frame 4", "frame 6"]
    assert reported == [(1, 4), (2, 4), (3, 4), (4, 4)]
    reported.clear()
    with pytest.raises(VideoCancelledError, match="after 2 of 4"):
        measurement_frames(head_clip, 4, progress=lambda done, total: reported.append(done),
                           cancelled=lambda: len(reported) == 2)


def test_a_video_stored_sideways_is_measured_upright(astronaut_image, tmp_path):
    head = cv2.resize(astronaut_image[0:280, 90:370], (240, 240), interpolation=cv2.INTER_AREA)
    clip = write_frames(tmp_path / "turned.mp4", [head] * 2, rotation=90)  # stored turned, displayed upright
    frames, _ = measurement_frames(clip, 2)
    assert len(frames) == 2 and all(abs(frame.face.pose[2]) < 20 for frame in frames)  # roll, degrees
    assert frames[0].image.shape[:2] == (240, 240)


def test_the_frame_options_follow_the_fusion():
    frames = schemas.VIDEO_ANALYZE_OPTIONS["properties"]["frames"]
    assert frames["maximum"] == MAX_FRAMES and frames["default"] == DEFAULT_FRAMES


def test_a_video_is_measured_fused_and_audited(tmp_path, head_clip):
    data = head_clip.read_bytes()

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            async def analyze(options: dict) -> tuple[dict, list]:
                answer = await client.post("/api/video/analyze", headers=bearer(key), data=form(data, options))
                assert answer.status == 202, await answer.text()
                job = await answer.json()
                assert job["operation"] == "video.analyze"
                events = await client.get(f"/api/jobs/{job['id']}/events", headers=bearer(key))
                progress = [entry for event, entry in parse_sse(await events.text()) if event == "progress"]
                finished = await wait_finished(client, key, job["id"], timeout=120)
                assert finished["state"] == "completed", finished
                return finished, progress

            job, progress = await analyze({"frames": 4, "include_sheet": True})
            assert progress and progress[-1]["frames_done"] == progress[-1]["frames_total"] == 4
            result = job["items"][0]["result"]
            [face] = result["faces"]  # as the fused photos' answer: one face record, lifted
            fused = face["measurements"]
            assert fused["fusion"]["frames"] > 1 and fused["fusion"]["sampled"] == 4
            assert fused["fusion"]["reference_frame"].startswith("frame ")
            assert [image["title"] for image in result["images"]] == ["sheet"]
            width = fused["values"]["biocular_width"]
            assert width["valid"] and width["fusion"]["frames"] > 1 and width["fusion"]["scale_sd"] > 0

            single, _ = await analyze({"frames": 1})
            [one] = single["items"][0]["result"]["faces"]
            assert one["measurements"]["fusion"]["frames"] == 1
            one_frame = one["measurements"]["values"]["biocular_width"]["fusion"]["noise_sd"]
            assert width["fusion"]["noise_sd"] < one_frame

            download = await client.get(f"/api/jobs/{job['id']}/download", headers=bearer(key))
            assert download.status == 200 and download.content_type == "application/zip"
            names = zipfile.ZipFile(io.BytesIO(await download.read())).namelist()
            assert any(name.endswith("fused_sheet.png") for name in names), names

            audit = app[SECURITY].audit
            rows = await _audit_rows(audit.db_path, "video.analyze", count=2)
            assert [json.loads(row["inputs"]) for row in rows] == [[hashlib.sha256(data).hexdigest()]] * 2
            parameters = json.loads(rows[0]["parameters"])
            assert parameters["frames"] == 4 and parameters["video_frames"] == 8 and rows[0]["outcome"] == "ok"
            job_rows = await _audit_rows(audit.db_path, "job.video.analyze", count=2)
            assert [row["outcome"] for row in job_rows] == ["ok", "ok"]

    asyncio.run(scenario())


def test_bad_uploads_are_refused_and_a_video_without_the_person_fails_by_name(tmp_path, head_clip,
                                                                              astronaut_image, t1_image):
    data = head_clip.read_bytes()
    grey = write_frames(tmp_path / "grey.mp4", [np.full((160, 160, 3), 128, np.uint8)] * 3)
    head = cv2.resize(astronaut_image[0:280, 90:370], (240, 240), interpolation=cv2.INTER_AREA)
    x1, y1, x2, y2 = (int(value) for value in detect_faces(t1_image, backend="centerface")[1].bbox)
    pad = (x2 - x1) // 2
    other = cv2.resize(t1_image[y1 - pad:y2 + pad, x1 - pad:x2 + pad], (240, 240), interpolation=cv2.INTER_AREA)
    two = write_frames(tmp_path / "two.mp4", [head, head, other, other])

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            async def post(body):
                return await client.post("/api/video/analyze", headers=bearer(key), data=body)

            refusals = [
                (form(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4), (422, "invalid_video")),
                (form(data[: len(data) // 3]), (422, "invalid_video")),  # truncated
                (form(data, {"scale": {"mm_per_px": 0.2}}), (400, "invalid_request")),  # describes one photo
                (form(data, {"frames": 0}), (400, "invalid_request")),
                (form(data, reference=b"a photo"), (400, "invalid_request")),  # no reference part here
                (form(None, {"frames": 4}), (400, "invalid_request")),
            ]
            for body, expected in refusals:
                assert await error_of(await post(body)) == expected

            for clip, code, named in ((grey, "no_face", "no frame shows a face"),
                                      (two, "invalid_parameter", "one person")):
                answer = await post(form(clip.read_bytes(), {"frames": 4}))
                assert answer.status == 202, await answer.text()
                job = await wait_finished(client, key, (await answer.json())["id"], timeout=120)
                error = job["items"][0]["error"]
                assert job["state"] == "failed" and error["code"] == code and named in error["message"], job

    asyncio.run(scenario())
