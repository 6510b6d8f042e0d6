"""The HTTP service over real HTTP: endpoints, jobs, SSE, zip, robustness, limits of paths and queue, metrics."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sqlite3
import time
import zipfile

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from playalter.pipelines.runtime import onnx_runtime
from playalter.pipelines.engine.detection import centerface
from playalter.runner.server.http.auth import KEYSTORE, SECURITY
from playalter.runner.server.jobs.dispatcher import DISPATCHER
from playalter.runner.server.jobs.store import JobStore
from playalter.runner.server.schemas import FACE_RECORD
from playalter.runner.server.jobs.workers import share_cores

from conftest import requires_face_mesh
from server_app_helpers import (b64, bearer, decode_image, make_settings, parse_sse, png_bytes, running_app,
                               wait_finished)


def png_of(pixels: np.ndarray) -> bytes:
    """uint8 RGB [H,W,3] -> PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def run(coroutine):
    return asyncio.run(coroutine)


async def error_of(response) -> tuple[int, str]:
    body = await response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return response.status, body["error"]["code"]


async def _audit_rows(db_path, operation: str, count: int) -> list[sqlite3.Row]:
    """The audit rows of ``operation`` once ``count`` of them were written (the log writes on its own thread)."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(db_path) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM audit_log WHERE operation = ?", (operation,)).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


# --- endpoints on real photos ------------------------------------------------------------------------

def test_detect_faces_workflow_on_t1_returns_annotated_preview(tmp_path, t1_path, t1_image):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            body = {"images": {"image": b64(t1_path.read_bytes())}}
            response = await client.post("/api/workflows/detect_faces/run", json=body, headers=bearer(key))
            assert response.status == 200, await response.text()
            result = await response.json()
            assert result["workflow"] == "detect_faces"
            [image] = result["images"]
            assert image["title"] == "preview" and image["content_type"] == "image/png"
            preview = decode_image(image["base64"])  # [H,W,3]
            assert preview.shape == t1_image.shape
            assert np.mean(preview != t1_image) > 0.001  # boxes were drawn
            [faces] = [entry["data"]["faces"] for entry in result["json"] if entry["title"] == "faces"]
            assert len(faces) == 6
            for face in faces:
                Draft202012Validator(FACE_RECORD).validate(face)
                x1, y1, x2, y2 = face["box"]
                assert x1 < x2 and y1 < y2 and face["score"] > 0.5 and len(face["keypoints"]) == 5
            assert response.headers["X-RateLimit-Limit"] == "2000"

    run(scenario())


def test_privacy_mask_on_t1_changes_the_faces_and_levels_grow_stronger(tmp_path, t1_path, t1_image):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            photo = b64(t1_path.read_bytes())
            response = await client.post("/api/privacy/mask", headers=bearer(key),
                                         json={"image_base64": photo, "mask_type": "solid", "strength": 1.0})
            assert response.status == 200, await response.text()
            result = await response.json()
            assert result["workflow"] == "privacy_blur"
            masked = decode_image(result["images"][0]["base64"])  # [H,W,3]
            assert masked.shape == t1_image.shape
            changed = np.any(masked != t1_image, axis=2)  # [H,W]
            assert 0.01 < changed.mean() < 0.5  # the six faces, not the whole photo

            levels = await client.post("/api/privacy/mask", headers=bearer(key),
                                       json={"image_base64": photo, "mask_type": "pixelate", "create_levels": 3})
            assert levels.status == 200, await levels.text()
            result = await levels.json()
            assert result["workflow"] == "privacy_pixelate_levels" and len(result["images"]) == 3
            [metadata] = result["json"]
            changes = [level["changed_pixels"] for level in metadata["data"]["levels"]]
            assert len(changes) == 3 and changes == sorted(changes)

    run(scenario())


@requires_face_mesh
def test_face_analyze_on_t1_returns_six_face_records_with_dense_measurements(tmp_path, t1_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            photo = b64(t1_path.read_bytes())
            response = await client.post("/api/face/analyze", json={"image_base64": photo}, headers=bearer(key))
            assert response.status == 200, await response.text()
            result = await response.json()
            assert result["workflow"] == "face_analysis_dense"  # FLAME is not installed here
            assert result["json"] == []  # the report is lifted out as "faces"
            [preview] = result["images"]
            assert preview["title"] == "preview"
            faces = result["faces"]
            assert len(faces) == 6 and [face["index"] for face in faces] == list(range(6))
            for face in faces:
                Draft202012Validator(FACE_RECORD).validate(face)
                x1, y1, x2, y2 = face["box"]
                assert 0 <= x1 < x2 <= 1280 and 0 <= y1 < y2 <= 1280 and face["score"] > 0.5
                assert all(x1 - 5 <= x <= x2 + 5 and y1 - 5 <= y <= y2 + 5 for x, y in face["keypoints"])
                assert set(face["pose"]) == {"yaw", "pitch", "roll"}
                assert face["models"] == {"detector": "centerface", "landmarks": "mediapipe_face_mesh"}
                assert 0.5 < face["landmark_score"] <= 1.0
                assert "landmarks" not in face and "mesh" not in face  # only on request
                assert face["measurements"]["units"] == "mm" and face["measurements"]["method"] == "dense_mesh"
                values = face["measurements"]["values"]
                valid = [entry for entry in values.values() if entry["valid"]]
                unscaled = face["measurements"]["scale"]["source"] == "interpupillary_prior"
                if unscaled and abs(face["pose"]["yaw"]) > 30:  # turned, irises under 3.5 px: no trustworthy scale
                    assert not valid
                else:
                    assert len(valid) >= 3
                assert all(0.0 < entry["value_mm"] < 250.0 for entry in valid if "value_mm" in entry)
                assert all(entry["reason"] for entry in values.values() if not entry["valid"])

            without = await client.post("/api/face/analyze", headers=bearer(key),
                                        json={"image_base64": photo, "include_measurements": False})
            assert all("measurements" not in face for face in (await without.json())["faces"])

            dense = await client.post("/api/face/analyze", headers=bearer(key),
                                      json={"image_base64": photo, "include_landmarks": True})
            for face, plain in zip((await dense.json())["faces"], faces):
                points = np.asarray(face["landmarks"])  # [468,3]
                assert points.shape == (468, 3)
                x1, y1, x2, y2 = plain["box"]
                inside = (points[:, 0] > x1 - 20) & (points[:, 0] < x2 + 20) & (points[:, 1] > y1 - 20) & (
                    points[:, 1] < y2 + 20)
                assert inside.mean() > 0.9

    run(scenario())


@requires_face_mesh
def test_face_analyze_returns_a_metric_mesh_without_flame(tmp_path, astronaut_image):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            photo = b64(png_of(astronaut_image))
            response = await client.post("/api/face/analyze", headers=bearer(key),
                                         json={"image_base64": photo, "include_3d_mesh": True})
            assert response.status == 200, await response.text()
            [face] = (await response.json())["faces"]
            mesh = face["mesh"]
            assert mesh["format"] == "json" and mesh["units"] == "mm"
            vertices, triangles = np.asarray(mesh["vertices"]), np.asarray(mesh["triangles"])  # [468,3], [T,3]
            assert vertices.shape == (468, 3) and triangles.ndim == 2 and triangles.shape[1] == 3
            assert len(triangles) > 800 and triangles.min() == 0 and triangles.max() == 467
            outer_canthi = np.linalg.norm(vertices[33] - vertices[263])  # an adult's is about 90 mm
            assert 70.0 < outer_canthi < 115.0

            obj = await client.post("/api/face/analyze", headers=bearer(key), json={
                "image_base64": photo, "include_3d_mesh": True, "mesh_format": "obj"})
            [face] = (await obj.json())["faces"]
            lines = face["mesh"]["obj"].splitlines()
            assert sum(line.startswith("v ") for line in lines) == 468
            assert sum(line.startswith("f ") for line in lines) == len(triangles)

            flame = await client.post("/api/face/analyze", headers=bearer(key),
                                      json={"image_base64": photo, "measurement_model": "flame"})
            assert await error_of(flame) == (503, "model_missing")  # FLAME is not installed here
            bad = await client.post("/api/face/analyze", headers=bearer(key),
                                    json={"image_base64": photo, "mesh_format": "stl"})
            assert await error_of(bad) == (400, "invalid_request")

    run(scenario())


def test_face_analyze_without_a_face_is_422_no_face(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            grey = png_of(np.full((256, 256, 3), 128, dtype=np.uint8))
            response = await client.post("/api/face/analyze", json={"image_base64": b64(grey)}, headers=bearer(key))
            assert await error_of(response) == (422, "no_face")
            spec = await (await client.get("/openapi.json")).json()
            analyze = spec["paths"]["/api/face/analyze"]["post"]
            assert "no_face" in analyze["responses"]["422"]["description"]
            assert analyze["requestBody"]["content"]["application/json"]["schema"]["properties"][
                "include_landmarks"]["default"] is False
            assert spec["components"]["schemas"]["FaceRecord"] == FACE_RECORD

    run(scenario())


def test_face_swap_on_t1_returns_the_target_with_a_new_face(tmp_path, t1_path, t1_image):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            photo = b64(t1_path.read_bytes())
            response = await client.post("/api/face/swap", headers=bearer(key), json={
                "source_image_base64": photo, "target_image_base64": photo,
                "source_face_index": 1, "target_face_index": 0})
            assert response.status == 200, await response.text()
            swapped = decode_image((await response.json())["images"][0]["base64"])  # [H,W,3]
            assert swapped.shape == t1_image.shape
            changed = np.any(np.abs(swapped.astype(int) - t1_image) > 8, axis=2)  # [H,W]
            assert 0.0005 < changed.mean() < 0.2  # one face region
            bad_index = await client.post("/api/face/swap", headers=bearer(key), json={
                "source_image_base64": photo, "target_image_base64": photo, "source_face_index": -1})
            assert await error_of(bad_index) == (400, "invalid_request")

    run(scenario())


def test_health_status_and_docs_are_served(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            health = await (await client.get("/health")).json()
            assert health["status"] == "ok" and health["queue"]["capacity"] == 2 + 32
            status = await (await client.get("/api/services/status", headers=bearer(key))).json()
            assert status["models"]["centerface"]["available"] is True
            assert status["capabilities"]["detect"]["workflows"] == {"detect_faces": True}
            assert "copy_image" in status["workflows"]
            assert status["execution"] == onnx_runtime.execution_path().to_dict()
            assert status["execution"]["path"] in ("onnxruntime-cpu", "onnxruntime-cuda", "torch-cuda", "torch-mps")
            spec = await (await client.get("/openapi.json")).json()
            assert spec["openapi"].startswith("3.")
            assert spec["paths"]["/api/batch/process"]["post"]["requestBody"]["content"]["application/json"][
                "schema"]["properties"]["images_base64"]["maxItems"] == 10
            docs = await client.get("/docs")
            assert docs.status == 200 and "/static/docs.js" in await docs.text()
            page = await (await client.get("/")).text()
            assert 'id="api-key"' in page and "https://" not in page  # no CDN: works offline

    run(scenario())


# --- batch jobs -------------------------------------------------------------------------------------

def test_batch_with_one_corrupt_image_fails_that_item_only_and_zips_the_rest(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            images = [png_bytes(seed=0), png_bytes(seed=1)[:200], png_bytes(seed=2)]
            response = await client.post("/api/workflows/copy_image/run",
                                         json={"images": {"image": b64(images[0])}, "async": True},
                                         headers=bearer(key))
            assert response.status == 202
            job = await wait_finished(client, key, (await response.json())["id"])
            assert job["state"] == "completed"

            batch = await client.post("/api/batch/process", headers=bearer(key), json={
                "images_base64": [b64(data) for data in images], "operation": "detect"})
            assert batch.status == 202, await batch.text()
            assert batch.headers["X-RateLimit-Remaining"] == str(2000 - 1 - 3)  # one unit per image; polling is free
            job = await wait_finished(client, key, (await batch.json())["id"])
            assert job["state"] == "completed"
            assert [item["state"] for item in job["items"]] == ["completed", "failed", "completed"]
            assert job["items"][1]["error"]["code"] == "invalid_image"
            assert job["progress"] == {"total": 3, "queued": 0, "running": 0, "completed": 2, "failed": 1,
                                       "cancelled": 0}

            download = await client.get(f"/api/jobs/{job['id']}/download", headers=bearer(key))
            assert download.status == 200 and download.content_type == "application/zip"
            archive = zipfile.ZipFile(io.BytesIO(await download.read()))
            names = archive.namelist()
            assert "job.json" in names
            assert sorted({name.split("/")[0] for name in names if name != "job.json"}) == ["item-0", "item-2"]
            summary = json.loads(archive.read("job.json"))
            assert summary["items"][1]["error"]["code"] == "invalid_image"

            job_folder = app[DISPATCHER].store.root / job["id"]
            assert not list(job_folder.glob("*/input"))  # inputs are deleted once their item has run

            audit = app[SECURITY].audit
            rows = await _audit_rows(audit.db_path, "job.detect", count=3)
            items = sorted((json.loads(row["parameters"])["item"], row["outcome"], json.loads(row["inputs"]))
                           for row in rows)
            assert [(index, outcome) for index, outcome, _ in items] == [(0, "ok"), (1, "invalid_image"), (2, "ok")]
            assert [inputs for _, _, inputs in items] == [[hashlib.sha256(data).hexdigest()] for data in images]
            assert audit.verify().ok

    run(scenario())


def test_sse_reports_every_item_and_ends_with_done(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path, SERVER__WORKERS=1)) as (client, app, key):
            images = [b64(png_bytes(seed=seed)) for seed in range(3)]
            created = await client.post("/api/workflows/copy_image/run",
                                        json={"images": {"image": images[0]}, "async": True}, headers=bearer(key))
            job_id = (await created.json())["id"]
            events = parse_sse(await (await client.get(f"/api/jobs/{job_id}/events", headers=bearer(key))).text())
            kinds = [event for event, _ in events]
            assert kinds[0] == "job" and kinds[-1] == "done"
            assert events[-1][1]["state"] == "completed"
            # a stream opened after the end gives the final state at once
            again = parse_sse(await (await client.get(f"/api/jobs/{job_id}/events", headers=bearer(key))).text())
            assert [event for event, _ in again] == ["job", "done"]

            batch = await client.post("/api/batch/process", headers=bearer(key),
                                      json={"images_base64": images, "operation": "detect"})
            job_id = (await batch.json())["id"]
            events = parse_sse(await (await client.get(f"/api/jobs/{job_id}/events", headers=bearer(key))).text())
            # every item not already finished when the stream opened is reported when it finishes
            finished_at_start = {item["index"] for item in events[0][1]["items"] if item["state"] == "completed"}
            reported = {data["index"] for event, data in events if event == "item" and data["state"] == "completed"}
            assert reported == {0, 1, 2} - finished_at_start
            progress = [data for event, data in events if event == "progress"]
            assert all(0 <= data["nodes_done"] <= data["nodes_total"] for data in progress)
            assert events[-1][0] == "done" and events[-1][1]["progress"]["completed"] == 3

    run(scenario())


def test_cancelling_a_batch_stops_its_items(tmp_path, t1_path):
    async def scenario():
        async with running_app(make_settings(tmp_path, SERVER__WORKERS=1)) as (client, app, key):
            photo = b64(t1_path.read_bytes())
            created = await client.post("/api/batch/process", headers=bearer(key),
                                        json={"images_base64": [photo] * 3, "operation": "detect"})
            job_id = (await created.json())["id"]
            cancelled = await client.delete(f"/api/jobs/{job_id}", headers=bearer(key))
            assert cancelled.status == 200
            job = await wait_finished(client, key, job_id)
            states = [item["state"] for item in job["items"]]
            assert states.count("cancelled") >= 2 and set(states) <= {"cancelled", "completed"}
            assert job["state"] in ("cancelled", "completed")
            not_done = await client.get(f"/api/jobs/{job_id}/download", headers=bearer(key))
            assert not_done.status == 200  # finished jobs can be downloaded, cancelled ones included

    run(scenario())


def test_switched_off_capability_is_403(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path, ENABLE_FACE_SWAP="false")) as (client, app, key):
            response = await client.post("/api/face/swap", headers=bearer(key), json={
                "source_image_base64": b64(png_bytes()), "target_image_base64": b64(png_bytes())})
            assert await error_of(response) == (403, "feature_disabled")

    run(scenario())


def test_idempotency_key_returns_the_first_job_and_refuses_another_body(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            headers = {**bearer(key), "Idempotency-Key": "order-17"}
            body = {"images_base64": [b64(png_bytes())], "operation": "detect"}
            first = await client.post("/api/batch/process", json=body, headers=headers)
            again = await client.post("/api/batch/process", json=body, headers=headers)
            assert (first.status, again.status) == (202, 200)
            assert (await first.json())["id"] == (await again.json())["id"]
            pool = app[DISPATCHER].pool
            pool.reserve(pool.capacity, force=True)  # a full queue does not stop a replay
            replay = await client.post("/api/batch/process", json=body, headers=headers)
            assert replay.status == 200 and (await replay.json())["id"] == (await first.json())["id"]
            pool.release(pool.capacity)
            other = await client.post("/api/batch/process", headers=headers,
                                      json={**body, "images_base64": [b64(png_bytes(seed=5))]})
            assert await error_of(other) == (409, "idempotency_key_reused")

    run(scenario())


def test_jobs_are_private_to_their_key_and_expire(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            _, other_key = app[KEYSTORE].create("basic", "other")
            response = await client.post("/api/batch/process", headers=bearer(key),
                                         json={"images_base64": [b64(png_bytes())], "operation": "detect"})
            job = await wait_finished(client, key, (await response.json())["id"])
            assert await error_of(await client.get(f"/api/jobs/{job['id']}", headers=bearer(other_key))) == (
                404, "job_not_found")
            store = app[DISPATCHER].store
            assert store.delete_expired(now=job["expires_at"] - 1) == 0
            assert store.delete_expired(now=job["expires_at"] + 1) == 1
            assert not (store.root / job["id"]).exists()
            assert await error_of(await client.get(f"/api/jobs/{job['id']}", headers=bearer(key))) == (
                404, "job_not_found")

    run(scenario())


# --- robustness -------------------------------------------------------------------------------------

def _bomb_png() -> bytes:
    """A small PNG whose header claims 20000 x 20000 pixels (a decompression bomb)."""
    buffer = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("case", ["truncated", "not_an_image", "too_large_side", "bomb"])
def test_bad_images_are_4xx_json(tmp_path, case, t1_path):
    data = {
        "truncated": t1_path.read_bytes()[:20000],
        "not_an_image": b"%PDF-1.4 definitely not an image",
        "too_large_side": png_bytes(height=64, width=4200),
        "bomb": _bomb_png(),
    }[case]

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            response = await client.post("/api/workflows/copy_image/run", json={"images": {"image": b64(data)}},
                                         headers=bearer(key))
            assert await error_of(response) == (422, "invalid_image")

    run(scenario())


def test_bodies_that_are_too_large_or_malformed_get_json_errors(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path, SECURITY__MAX_BODY_MB=1)) as (client, app, key):
            huge = {"images": {"image": "A" * (2 << 20)}}
            response = await client.post("/api/workflows/copy_image/run", json=huge, headers=bearer(key))
            assert await error_of(response) == (413, "body_too_large")
            batch = await client.post("/api/batch/process", json={"images_base64": ["A" * (2 << 20)],
                                                                  "operation": "detect"}, headers=bearer(key))
            assert await error_of(batch) == (413, "body_too_large")
            cases = [
                (b"{not json", "invalid_json"),
                (json.dumps({"images_base64": ["aGk="] * 11, "operation": "detect"}).encode(), "invalid_request"),
                (json.dumps({"images_base64": ["aGk="], "operation": "explode"}).encode(), "invalid_request"),
                (json.dumps({"images_base64": ["not base64!"], "operation": "detect"}).encode(), "invalid_base64"),
                (json.dumps({"images_base64": ["aGk="], "operation": "privacy",
                             "parameters": {"strength": 1.5}}).encode(), "invalid_request"),
            ]
            for body, code in cases:
                response = await client.post("/api/batch/process", data=body, headers=bearer(key))
                assert await error_of(response) == (400, code), body[:80]
            unknown = await client.get("/api/nothing-here", headers=bearer(key))
            assert await error_of(unknown) == (404, "not_found")

    run(scenario())


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "..", ".hidden", "a%00b", "x" * 65])
def test_workflow_names_cannot_be_paths(tmp_path, name):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            response = await client.post(f"/api/workflows/{name}/run", json={}, headers=bearer(key))
            assert (await error_of(response))[0] in (400, 404)

    run(scenario())


def test_bound_values_cannot_leave_the_input_and_output_folders(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            image = b64(png_bytes())
            escape = await client.post("/api/workflows/copy_image/run", headers=bearer(key), json={
                "images": {"image": image}, "inputs": {"output.filename_prefix": "../../escaped/x"}})
            assert (await error_of(escape))[0] == 400
            read = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                     json={"inputs": {"image.image": "../../data/keys.sqlite3"}})
            assert (await error_of(read))[0] == 400
            absolute = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                         json={"inputs": {"image.image": "/etc/passwd"}})
            assert (await error_of(absolute))[0] == 400
            assert not list(tmp_path.rglob("escaped"))

    run(scenario())


def test_full_queue_is_503_with_retry_after(tmp_path):
    async def scenario():
        settings = make_settings(tmp_path, SERVER__WORKERS=1, SERVER__QUEUE_SIZE=2)
        async with running_app(settings) as (client, app, key):
            pool = app[DISPATCHER].pool
            pool.reserve(pool.capacity - 1)  # as if three items were in flight: one place left
            too_many = await client.post("/api/batch/process", headers=bearer(key),
                                         json={"images_base64": [b64(png_bytes())] * 2, "operation": "detect"})
            assert await error_of(too_many) == (503, "queue_full")
            assert int(too_many.headers["Retry-After"]) >= 1
            fits = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                     json={"images": {"image": b64(png_bytes())}})
            assert fits.status == 200
            pool.release(pool.capacity - 1)

    run(scenario())


def test_processing_timeout_stops_the_run(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path, SERVER__JOB_TIMEOUT_SECONDS=0)) as (client, app, key):
            response = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                         json={"images": {"image": b64(png_bytes(1500, 1500))}})
            assert await error_of(response) == (504, "timeout")

    run(scenario())


# --- metrics ----------------------------------------------------------------------------------------

def test_metrics_count_requests_rejections_and_jobs(tmp_path):
    async def scenario():
        settings = make_settings(tmp_path, RATE_LIMIT__BASIC_PER_HOUR=1)
        async with running_app(settings) as (client, app, admin):
            _, basic = app[KEYSTORE].create("basic", "client")
            assert (await client.get("/metrics")).status == 401  # not public unless configured
            body = {"images": {"image": b64(png_bytes())}}
            assert (await client.post("/api/workflows/copy_image/run", json=body, headers=bearer(basic))).status == 200
            limited = await client.post("/api/workflows/copy_image/run", json=body, headers=bearer(basic))
            assert limited.status == 429
            text = await (await client.get("/metrics", headers=bearer(admin))).text()
            assert ('playalter_http_requests_total{endpoint="/api/workflows/{name}/run",method="POST",status="200"}'
                    ' 1.0') in text
            assert 'playalter_rate_limit_rejections_total{endpoint="/api/workflows/{name}/run"} 1.0' in text
            assert 'playalter_jobs{state="completed"} 1.0' in text
            assert "playalter_queue_depth 0.0" in text
            assert "playalter_http_request_duration_seconds_bucket" in text

    run(scenario())


def test_metrics_can_be_public(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path, SERVER__METRICS_PUBLIC="true")) as (client, app, key):
            response = await client.get("/metrics")
            assert response.status == 200 and "playalter_workers_busy" in await response.text()

    run(scenario())


def test_workers_share_the_cores_among_onnxruntime_sessions():
    try:
        assert share_cores(workers=2) == max(1, (os.cpu_count() or 1) // 2)
        assert share_cores(workers=2, onnx_threads=3) == 3
        session = onnx_runtime.session(centerface._dynamic_model_bytes(), device="cpu")
        assert session.get_session_options().intra_op_num_threads == 3
    finally:
        onnx_runtime.set_default_threads(0)


def test_an_item_interrupted_twice_fails_instead_of_looping(tmp_path):
    store = JobStore(tmp_path)
    job, _ = store.create(key_id="k", operation="detect", workflow="detect_faces",
                          plan={"bindings": {}, "hide_titles": []}, item_images=[{"image": b"a"}, {"image": b"b"}])
    assert store.start_item(job.id, 0)  # the process dies while item 0 runs ...
    assert [(item.index, item.state) for item in store.recover(ttl_seconds=60)] == [(0, "queued"), (1, "queued")]
    assert store.start_item(job.id, 0)  # ... and dies again on the same item
    assert [item.index for item in store.recover(ttl_seconds=60)] == [1]
    item = store.get(job.id).items[0]
    assert item.state == "failed" and item.error["code"] == "interrupted"
    store.close()
