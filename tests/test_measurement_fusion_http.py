"""POST /api/face/analyze with images_base64 and fuse: one person's photos give one fused face with its
sheet; bad lists, a bad item (named by index), another person and a one-photo scale are 4xx."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np

from conftest import requires_face_mesh
from server_app_helpers import b64, bearer, make_settings, running_app

pytestmark = requires_face_mesh


def _png(image: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    assert ok
    return b64(data.tobytes())


def test_fused_analysis_over_http(tmp_path, astronaut_image, t1_image):
    head = np.ascontiguousarray(astronaut_image[0:280, 90:370])
    photos = [_png(head), _png(cv2.resize(head, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)),
              _png(head[:, ::-1])]

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            async def analyze(body):
                response = await client.post("/api/face/analyze", headers=bearer(key), json=body)
                return response.status, await response.json()

            status, answer = await analyze({"images_base64": photos, "fuse": True, "include_sheet": True})
            assert status == 200, answer
            [face] = answer["faces"]
            assert face["measurements"]["fusion"]["frames"] == 3
            assert face["measurements"]["fusion"]["reference_frame"] == f"images_base64.{face['image']}"
            width = face["measurements"]["values"]["biocular_width"]
            assert width["valid"] and width["fusion"]["frames"] >= 2 and width["fusion"]["scale_sd"] > 0
            assert [image["title"] for image in answer["images"]] == ["sheet"]

            refusals = {
                "fuse without a list": ({"image_base64": photos[0], "fuse": True}, "images_base64"),
                "a list without fuse": ({"images_base64": photos}, "fuse"),
                "one photo in the list": ({"images_base64": photos[:1], "fuse": True}, "at least 2"),
                "too many photos": ({"images_base64": photos * 6, "fuse": True}, "at most 16"),
                "both fields": ({"images_base64": photos, "image_base64": photos[0], "fuse": True}, "image_base64"),
                "bad base64 item": ({"images_base64": [photos[0], "%%%"], "fuse": True}, "images_base64.1"),
                "one-photo scale": ({"images_base64": photos, "fuse": True, "scale": {"mm_per_px": 0.2}},
                                    "describes one photo"),
                "FLAME": ({"images_base64": photos, "fuse": True, "measurement_model": "flame"}, "dense-mesh"),
            }
            for name, (body, named) in refusals.items():
                status, answer = await analyze(body)
                assert status == 400 and named in answer["error"]["message"], (name, answer)
            status, answer = await analyze({"images_base64": [photos[0], b64(b"not an image")], "fuse": True})
            assert status == 422 and "images_base64.1" in answer["error"]["message"], answer
            assert ".bin" not in answer["error"]["message"], "named by the request field, not the job's input file"
            status, answer = await analyze({"images_base64": [photos[0], _png(np.full((160, 160, 3), 128, np.uint8))],
                                            "fuse": True})
            assert status == 422 and answer["error"]["code"] == "no_face", answer
            assert "images_base64.1" in answer["error"]["message"]
            status, answer = await analyze({"images_base64": [*photos[:2], _png(t1_image)], "fuse": True})
            assert status == 400 and "images_base64.2" in answer["error"]["message"], answer

    asyncio.run(scenario())
