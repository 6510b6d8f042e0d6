"""What HTTP answers tell a caller: faces hidden, fall-backs, one default, what is usable, every route documented."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from playalter.nodes.privacy import PlayAlterPrivacyMask
from playalter.pipelines.engine.detection import detect_faces
from playalter.runner.cli.main import build_parser
from playalter.runner.server.schemas import PRIVACY_PARAMETERS

from server_app_helpers import b64, bearer, decode_image, make_settings, png_bytes, running_app, wait_finished

API_DIR = Path(__file__).resolve().parents[1] / "workflows" / "api"
UNDOCUMENTED = {"/", "/docs", "/openapi.json", "/favicon.ico"}  # pages, not API


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    from playalter.pipelines.core.config import reset_settings

    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("PLAYALTER__MODELS__AUTO_FETCH", "false")
    reset_settings()
    yield
    reset_settings()


def run(coroutine):
    return asyncio.run(coroutine)


def test_every_route_is_in_the_openapi_document(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            spec = await (await client.get("/openapi.json")).json()
            for route in app.router.routes():
                path = route.resource.canonical
                if path in UNDOCUMENTED or path.startswith("/static") or route.method == "HEAD":
                    continue
                assert route.method.lower() in spec["paths"].get(path, {}), f"{route.method} {path} undocumented"

    run(scenario())


def test_privacy_answer_counts_hidden_faces_and_warns_when_there_is_none(tmp_path, t1_path, no_models):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            masked = await client.post("/api/privacy/mask", headers=bearer(key),
                                       json={"image_base64": b64(t1_path.read_bytes())})
            assert masked.status == 200, await masked.text()
            body = await masked.json()
            assert body["faces_hidden"] == 7 and body["warnings"] == []
            blank = await client.post("/api/privacy/mask", headers=bearer(key),
                                      json={"image_base64": b64(png_bytes())})
            assert blank.status == 200
            body = await blank.json()
            assert body["faces_hidden"] == 0 and "no face was detected" in body["warnings"][0]

    run(scenario())


def test_privacy_thorough_is_a_validated_boolean_that_finds_at_least_as_many_faces(tmp_path, t1_path, no_models):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            image = b64(t1_path.read_bytes())
            thorough = await client.post("/api/privacy/mask", headers=bearer(key),
                                         json={"image_base64": image, "thorough": True})
            assert thorough.status == 200, await thorough.text()
            assert (await thorough.json())["faces_hidden"] >= 7
            wrong = await client.post("/api/privacy/mask", headers=bearer(key),
                                      json={"image_base64": image, "thorough": "yes"})
            assert wrong.status == 400
            assert "thorough" in (await wrong.json())["error"]["message"]

    run(scenario())


def test_batch_privacy_results_count_hidden_faces_like_single_answers(tmp_path, t1_path, no_models):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            batch = await client.post("/api/batch/process", headers=bearer(key), json={
                "images_base64": [b64(t1_path.read_bytes()), b64(png_bytes())], "operation": "privacy"})
            assert batch.status == 202, await batch.text()
            job = await wait_finished(client, key, (await batch.json())["id"])
            results = [item["result"] for item in job["items"]]
            assert [result["faces_hidden"] for result in results] == [7, 0]
            assert results[0]["warnings"] == [] and "no face was detected" in results[1]["warnings"][0]

    run(scenario())


def test_levels_with_include_audit_return_an_audit_per_level(tmp_path, t1_path, no_models):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            response = await client.post("/api/privacy/mask", headers=bearer(key), json={
                "image_base64": b64(t1_path.read_bytes()), "create_levels": 2, "include_audit": True})
            assert response.status == 200, await response.text()
            body = await response.json()
            [metadata] = [entry["data"] for entry in body["json"] if entry["title"] == "levels metadata"]
            assert all("still_detected" in level["audit"] for level in metadata["levels"])
            assert body["faces_hidden"] == 7

    run(scenario())


def test_privacy_strength_has_one_default_everywhere():
    cli = build_parser().parse_args(["anonymize", "photo.jpg", "--out", "out"])
    node = PlayAlterPrivacyMask.INPUT_TYPES()["required"]["strength"][1]["default"]
    workflows = {json.loads((API_DIR / f"{name}.json").read_text())["3"]["inputs"]["strength"]
                 for name in ("privacy_blur", "privacy_audit", "privacy_pixelate_levels")}
    assert PRIVACY_PARAMETERS["strength"]["default"] == cli.strength == node == 1.0 and workflows == {1.0}


def test_default_swap_takes_the_largest_face_and_says_it_fell_back(tmp_path, t1_path, t1_image, no_models):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            photo = b64(t1_path.read_bytes())
            response = await client.post("/api/face/swap", headers=bearer(key), json={
                "source_image_base64": photo, "target_image_base64": photo, "source_face_index": 1})
            assert response.status == 200, await response.text()
            body = await response.json()
            assert body["method"] == "classical"
            assert any("model-free" in warning and "inswapper_128" in warning for warning in body["warnings"])
            swapped = decode_image(body["images"][0]["base64"])  # [H,W,3]
            changed = np.any(np.abs(swapped.astype(int) - t1_image) > 8, axis=2)  # [H,W]
            largest = max(detect_faces(t1_image), key=lambda face: (face.bbox[2] - face.bbox[0])
                          * (face.bbox[3] - face.bbox[1]))
            x0, y0, x1, y1 = (int(value) for value in largest.bbox)
            assert changed[y0:y1, x0:x1].sum() > 0.5 * changed.sum()

    run(scenario())


def test_services_status_says_what_is_usable_and_why(tmp_path, no_models):
    async def scenario():
        async with running_app(make_settings(tmp_path, ENABLE_PRIVACY="false")) as (client, app, key):
            status = await (await client.get("/api/services/status", headers=bearer(key))).json()
            capabilities = status["capabilities"]
            assert capabilities["detect"]["usable"] is True and capabilities["detect"]["reason"] is None
            swap = capabilities["swap"]
            assert swap["usable"] is True and "inswapper_128" in swap["reason"]
            assert swap["options"]["method=inswapper"]["usable"] is False
            assert capabilities["privacy"]["usable"] is False
            assert capabilities["privacy"]["reason"] == "switched off on this server"
            analyze = capabilities["analyze"]
            assert analyze["options"]["measurement_model=flame"] == {
                "usable": False, "reason": analyze["options"]["measurement_model=flame"]["reason"]}
            assert "flame" in analyze["options"]["measurement_model=flame"]["reason"]
            assert str(tmp_path) not in json.dumps(capabilities)

    run(scenario())


def test_favicon_is_the_playalter_icon(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            response = await client.get("/favicon.ico")
            assert response.status == 200 and response.headers["Content-Type"] == "image/svg+xml"
            assert (await response.read()).startswith(b"<svg")

    run(scenario())
