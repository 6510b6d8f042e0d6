"""POST /api/face/compare: status codes and body, through the saved face_compare workflow."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import cv2
import pytest

from playalter.pipelines import models

from server_app_helpers import b64, bearer, make_settings, png_bytes, running_app

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
