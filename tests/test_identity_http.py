"""POST /api/face/compare (status codes and body, through the saved face_compare workflow), and
POST /api/privacy/mask by reference (people and reference_base64, through privacy_people)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import cv2
import numpy as np
import pytest

from playalter.pipelines import models
from playalter.pipelines.engine.detection import detect_faces

from server_app_helpers import b64, bearer, decode_image, make_settings, png_bytes, running_app

requires_dlib = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None or not models.is_available("identity"),
    reason="dlib or the identity model is absent (pip install dlib-bin; playalter models fetch identity)")


def _jpeg_bytes(image_rgb, quality: int = 60, scale: float = 1.0) -> bytes:
    resized = cv2.resize(image_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(resized, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()


async def _post(client, key, body):
    answer = await client.post("/api/face/compare", headers=bearer(key), json=body)
    return answer.status, await answer.json()


@requires_dlib
def test_compare_answers_distance_same_person_threshold_and_model(tmp_path, astronaut_image, t1_path):
    from playalter.pipelines.engine.embedding import DLIB

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            astronaut = b64(_jpeg_bytes(astronaut_image, 95))
            status, same = await _post(client, key, {"image_base64": astronaut, "identity_model": "dlib",
                                                     "reference_base64": b64(_jpeg_bytes(astronaut_image, 50, 0.7))})
            assert status == 200, same
            assert same["same_person"] is True and same["threshold"] == DLIB.same_person_distance
            assert 0 <= same["distance"] < same["threshold"]
            assert same["model"] == {"name": DLIB.name, "licence": DLIB.licence} and same["metric"] == "euclidean"
            status, other = await _post(client, key, {"image_base64": astronaut, "identity_model": "dlib",
                                                      "reference_base64": b64(t1_path.read_bytes()),
                                                      "reference_face_index": 3})
            assert status == 200, other
            assert other["same_person"] is False and other["distance"] > DLIB.same_person_distance
            assert other["reference_face"]["index"] == 3

    asyncio.run(scenario())


def test_compare_refusals(tmp_path, t1_path, monkeypatch):
    from playalter.pipelines.engine import dlib_descriptor
    from playalter.pipelines.models import buffalo

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            t1 = b64(t1_path.read_bytes())
            status, body = await _post(client, key, {"image_base64": t1})
            assert status == 400 and body["error"]["code"] == "invalid_request"
            assert "reference_base64" in body["error"]["message"]
            status, body = await _post(client, key, {"image_base64": t1, "reference_base64": t1, "face_index": 64})
            assert status == 400 and body["error"]["code"] == "invalid_request"
            status, body = await _post(client, key, {"image_base64": t1, "reference_base64": t1,
                                                     "identity_model": "facenet"})
            assert status == 400 and body["error"]["code"] == "invalid_request"
            unauthorised = await client.post("/api/face/compare", json={"image_base64": t1, "reference_base64": t1})
            assert unauthorised.status == 401
            monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib fails: the answer names the fix
            monkeypatch.setattr(dlib_descriptor, "is_installed", lambda: False)
            monkeypatch.setattr(buffalo, "is_available", lambda: False)
            status, body = await _post(client, key, {"image_base64": t1, "reference_base64": t1})
            assert status == 503 and body["error"]["code"] == "dependency_missing"
            assert "playalter[identity]" in body["error"]["message"] and "Traceback" not in body["error"]["message"]

    asyncio.run(scenario())


@requires_dlib
def test_compare_without_a_face_or_with_a_missing_index(tmp_path, t1_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            t1 = b64(t1_path.read_bytes())
            status, body = await _post(client, key, {"image_base64": b64(png_bytes()), "reference_base64": t1,
                                                     "identity_model": "dlib"})
            assert status == 422 and body["error"]["code"] == "no_face"
            status, body = await _post(client, key, {"image_base64": t1, "reference_base64": t1, "face_index": 9,
                                                     "identity_model": "dlib"})
            assert status == 400 and body["error"]["code"] == "invalid_parameter"
            assert "face index 9" in body["error"]["message"]

    asyncio.run(scenario())


def _changed(before, after, box) -> float:
    """Mean absolute change [0..255] inside a face box [x1,y1,x2,y2] (the middle half, so neighbours' masks
    reaching in do not count)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    rows, cols = slice(int(y1 + h / 4), int(y2 - h / 4)), slice(int(x1 + w / 4), int(x2 - w / 4))
    return float(np.abs(before[rows, cols].astype(np.int16) - after[rows, cols].astype(np.int16)).mean())


@requires_dlib
def test_privacy_mask_hides_everyone_except_or_only_the_reference_person(tmp_path, t1_image, t1_path):
    """POST /api/privacy/mask with people and reference_base64 (a rescaled, re-compressed crop of one guest)."""
    faces = detect_faces(t1_image, backend="centerface")
    x1, y1, x2, y2 = (int(value) for value in faces[1].bbox)
    pad = (x2 - x1) // 2
    reference = b64(_jpeg_bytes(t1_image[y1 - pad:y2 + pad, x1 - pad:x2 + pad], 70, 1.3))
    photo = b64(t1_path.read_bytes())

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            async def mask(body):
                answer = await client.post("/api/privacy/mask", headers=bearer(key), json=body)
                return answer.status, await answer.json()

            for people in ("everyone_except", "only"):
                status, answer = await mask({"image_base64": photo, "people": people, "identity_model": "dlib",
                                             "reference_base64": reference})
                assert status == 200, answer
                output = decode_image(answer["images"][0]["base64"])  # [H,W,3]
                changes = [_changed(t1_image, output, face.bbox) for face in faces]
                reference_changed = changes.pop(1)
                if people == "everyone_except":
                    assert reference_changed == 0.0 and min(changes) > 10, changes
                    assert answer["faces_hidden"] >= len(faces) - 1
                else:
                    assert reference_changed > 10 and max(changes) == 0.0, changes
                    assert answer["faces_hidden"] == 1
            for body, word in (({"people": "only"}, "reference_base64"),
                               ({"reference_base64": reference}, "people"),
                               ({"people": "only", "reference_base64": reference, "create_levels": 3},
                                "create_levels")):
                status, answer = await mask({"image_base64": photo, **body})
                assert status == 400 and word in answer["error"]["message"], answer

    asyncio.run(scenario())
