"""POST /api/video/anonymize by reference: the form part reference and the option people."""

from __future__ import annotations

import asyncio
import importlib.util

import cv2
import numpy as np
import pytest

from playalter.pipelines import models
from playalter.pipelines.engine.detection import detect_faces

from server_app_helpers import bearer, make_settings, running_app, wait_finished
from test_video_http import form
from video_clips import window, write_clip

requires_dlib = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None or not models.is_available("identity"),
    reason="dlib or the identity model is absent (pip install dlib-bin; playalter models fetch identity)")


def _jpeg_bytes(image_rgb, quality: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()


@requires_dlib
def test_video_anonymize_job_hides_only_the_person_of_the_reference_part(tmp_path, t1_image, astronaut_image):
    """POST /api/video/anonymize with people=only and a reference photo: one track is the reference person."""
    x1, y1, x2, y2 = (int(value) for value in detect_faces(t1_image, backend="centerface")[1].bbox)
    pad = (x2 - x1) // 2
    neighbour = cv2.resize(t1_image[y1 - pad:y2 + pad, x1 - pad:x2 + pad], (160, 160), interpolation=cv2.INTER_AREA)
    frame = np.hstack([window(astronaut_image, (0.43, 0.28), 2.2, (160, 160)), neighbour])
    clip = write_clip(tmp_path / "two.mp4", [frame] * 4)

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            video = clip.read_bytes()
            without = await client.post("/api/video/anonymize", headers=bearer(key),
                                        data=form(video, {"people": "only"}))
            assert without.status == 400 and "reference" in (await without.json())["error"]["message"]
            answer = await client.post("/api/video/anonymize", headers=bearer(key),
                                       data=form(video, {"people": "only", "identity_model": "dlib"},
                                                 reference=_jpeg_bytes(astronaut_image, 60)))
            assert answer.status == 202, await answer.text()
            job = await wait_finished(client, key, (await answer.json())["id"], timeout=300)
            assert job["state"] == "completed", job
            [report] = [entry["data"] for entry in job["items"][0]["result"]["json"]]
            assert report["people"]["mode"] == "only"
            assert [track["reference_person"] for track in report["people"]["tracks"]].count(True) == 1

    asyncio.run(scenario())
