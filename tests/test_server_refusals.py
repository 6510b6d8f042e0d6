"""What the service refuses, and how: malformed bodies are 400 on every JSON endpoint, messages quote only
short excerpts of what was sent, file names are checked before anything runs, item errors carry no server
paths, and refused requests cost nothing against the hourly budget."""

from __future__ import annotations

import asyncio
import json

import pytest

from playalter.pipelines.core.errors import InvalidParameterError, ModelMissingError
from playalter.runner.engine.errors import NodeExecutionError
from playalter.runner.server.http.auth import KEYSTORE
from playalter.runner.server.security.ratelimit import LIMITER
from playalter.runner.server.jobs.runs import describe_error

from server_app_helpers import b64, bearer, make_settings, png_bytes, running_app

JSON_ENDPOINTS = ["/api/face/analyze", "/api/privacy/mask", "/api/face/swap", "/api/batch/process",
                  "/api/workflows/copy_image/run", "/api/keys"]


def run(coroutine):
    return asyncio.run(coroutine)


async def refusal(response) -> tuple[int, str, str]:
    text = await response.text()
    assert "Traceback" not in text
    error = json.loads(text)["error"]
    return response.status, error["code"], error["message"]


@pytest.mark.parametrize("body", [b"[" * 1000, b'{"a":' * 1000, b"[" * 100_000 + b"]" * 100_000,
                                  json.dumps({"image_base64": "QQ==", "strength": [[[[[[[[[[[[[[[[[[[[[[[[[[[[
                                      [[[[[[[[1]]]]]]]] ]]]]]]]]]]]]]]]]]]]]]]]]]]]]}).encode(),
                                  b'{"image_base64": "QQ==", "strength": NaN}', b'{"images": Infinity}',
                                  b'{"image_base64": "\xff\xfe"}', b"1" * 5000, b""])
def test_a_malformed_body_is_400_on_every_json_endpoint(tmp_path, body):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            for path in JSON_ENDPOINTS:
                response = await client.post(path, data=body, headers=bearer(key))
                status, code, message = await refusal(response)
                assert status == 400, (path, status, code, message)
                assert len(message) < 300

    run(scenario())


def test_messages_quote_only_a_short_excerpt_of_what_was_sent(tmp_path):
    huge = "A" * 2_000_000
    bodies = [
        ("/api/privacy/mask", {"image_base64": [huge]}),
        ("/api/privacy/mask", {"image_base64": {"nested": huge}}),
        ("/api/privacy/mask", {"image_base64": b64(png_bytes()), "mask_type": huge}),
        ("/api/privacy/mask", {"image_base64": b64(png_bytes()), huge: 1}),
        ("/api/face/analyze", {"image_base64": b64(png_bytes()), "include_landmarks": huge}),
        ("/api/face/swap", {"source_image_base64": int("9" * 4000), "target_image_base64": "QQ=="}),
        ("/api/batch/process", {"images_base64": ["QQ=="], "operation": "privacy", "parameters": {huge: huge}}),
        ("/api/workflows/copy_image/run", {"images": {huge: "QQ=="}}),
        ("/api/workflows/copy_image/run", {"images": {"image": b64(png_bytes())}, "inputs": {huge: 1}}),
        ("/api/workflows/copy_image/run", {"images": {"image": b64(png_bytes())}, "inputs": {"output." + huge: 1}}),
        ("/api/workflows/copy_image/run", {"inputs": {"image.image": huge}}),
        ("/api/keys", {"tier": huge}),
        ("/api/keys", {"scopes": [huge]}),
        ("/api/keys", {"expires": huge}),
    ]

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            for path, body in bodies:
                response = await client.post(path, json=body, headers=bearer(key))
                text = await response.text()
                assert response.status == 400, (path, text[:300])
                assert len(text) < 2000, (path, text[:300])
                assert "A" * 100 not in text and "9" * 100 not in text

    run(scenario())


@pytest.mark.parametrize("prefix, problem", [("out\x00put", "control character"), ("p" * 300, "at most 200"),
                                             ("/etc/cron.d/x", "absolute"), ("../../x", "'..'"), ("", "empty")])
def test_a_bad_filename_prefix_is_400_before_anything_runs_and_names_no_server_path(tmp_path, prefix, problem):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            body = {"images": {"image": b64(png_bytes())}, "inputs": {"output.filename_prefix": prefix}}
            response = await client.post("/api/workflows/copy_image/run", json=body, headers=bearer(key))
            status, code, message = await refusal(response)
            assert (status, code) == (400, "workflow_invalid")
            assert problem in message and "filename_prefix" in message
            assert str(tmp_path) not in await response.text()
            assert not list((tmp_path / "data").rglob("*.png"))  # nothing ran

    run(scenario())


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a\x00b.png", "x" * 300, "missing.png"])
def test_an_image_name_bound_over_http_is_refused_without_server_paths(tmp_path, name):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            body = {"inputs": {"image.image": name}}
            response = await client.post("/api/workflows/copy_image/run", json=body, headers=bearer(key))
            status, code, message = await refusal(response)
            assert (status, code) == (400, "workflow_invalid")
            assert "invalid file name" in message.lower() or "not in the input folder" in message
            assert str(tmp_path) not in await response.text()

    run(scenario())


def test_item_errors_name_a_missing_model_and_how_to_get_it_but_no_server_folder():
    missing = ModelMissingError("flame2023", "FLAME fitting", ["/srv/playalter/models/flame", "/home/op/.cache/x"],
                                "download it from https://flame.is.tue.mpg.de/ and put it in models/flame/")
    node_error = NodeExecutionError("3", "PlayAlterFaceAnalysis", str(missing), "ModelMissingError", missing.code)
    node_error.__cause__ = missing
    for error in (missing, node_error):
        described = describe_error(error)
        assert described["code"] == "model_missing"
        assert "flame2023" in described["message"] and "https://flame.is.tue.mpg.de/" in described["message"]
        assert "/srv/" not in json.dumps(described) and "/home/" not in json.dumps(described)
    unreadable = InvalidParameterError("cannot read '/srv/data/jobs/a1/output/x'")
    with_path = NodeExecutionError("2", "SaveImage", str(unreadable), "InvalidParameterError", unreadable.code)
    with_path.__cause__ = unreadable
    assert "/srv/" not in describe_error(with_path)["message"]
    assert ".../x" in describe_error(with_path)["message"]
    # an exception that is not ours is a bug: named, never quoted (Python's text may hold paths and values)
    too_long = NodeExecutionError("2", "SaveImage", "[Errno 36] File name too long: '/srv/data/jobs/a1/output/x'",
                                  "OSError")
    too_long.__cause__ = OSError(36, "File name too long")
    assert describe_error(too_long)["message"] == "node 2 (SaveImage) failed unexpectedly; the error has been logged"


def test_refused_requests_cost_nothing_only_admitted_work_counts(tmp_path):
    settings = make_settings(tmp_path, RATE_LIMIT__BASIC_PER_HOUR=5, RATE_LIMIT__MAX_CONCURRENT_JOBS=1,
                             SECURITY__MAX_BODY_MB=1, ENABLE_FACE_SWAP="false")

    async def scenario():
        async with running_app(settings) as (client, app, _):
            key_id, key = app[KEYSTORE].create("basic", scopes=["face:analyze", "privacy:mask", "face:swap", "batch",
                                                                "workflows:run", "jobs:read"])
            principal = app[KEYSTORE].authenticate(key)
            image = b64(png_bytes())
            refused = [
                ("/api/privacy/mask", b"[" * 1000, 400),
                ("/api/privacy/mask", json.dumps({"image_base64": 5}).encode(), 400),
                ("/api/privacy/mask", json.dumps({"image_base64": "not base64!"}).encode(), 400),
                ("/api/batch/process", json.dumps({"images_base64": [image] * 3, "operation": "x"}).encode(), 400),
                ("/api/workflows/copy_image/run", json.dumps({"inputs": {"nope.x": 1}}).encode(), 400),
                ("/api/workflows/copy_image/run", json.dumps({"images": {"image": image},
                                                              "inputs": {"output.filename_prefix": "a\x00"}}).encode(),
                 400),
                ("/api/workflows/no_such_workflow/run", b"{}", 404),
                ("/api/face/swap", json.dumps({"source_image_base64": image, "target_image_base64": image}).encode(),
                 403),
                ("/api/privacy/mask", b'{"image_base64": "' + b"A" * (2 << 20) + b'"}', 413),
                ("/api/no/such/endpoint", b"{}", 404),
            ]
            for _ in range(2):  # more refusals than the whole budget
                for path, body, status in refused:
                    response = await client.post(path, data=body, headers=bearer(key))
                    assert response.status == status, (path, await response.text())
                    assert response.headers["X-RateLimit-Remaining"] == "5", path
            slot = app[LIMITER].job_slot(principal)  # the key's only job slot is taken
            busy = await client.post("/api/workflows/copy_image/run", json={"images": {"image": image}},
                                     headers=bearer(key))
            assert (await refusal(busy))[:2] == (429, "too_many_concurrent_jobs")
            assert busy.headers["X-RateLimit-Remaining"] == "5"
            slot.release()

            admitted = await client.post("/api/workflows/copy_image/run", json={"images": {"image": image}},
                                         headers=bearer(key))
            assert admitted.status == 200 and admitted.headers["X-RateLimit-Remaining"] == "4"
            batch = await client.post("/api/batch/process", headers=bearer(key),
                                      json={"images_base64": [image] * 4, "operation": "detect"})
            assert batch.status == 202 and batch.headers["X-RateLimit-Remaining"] == "0"
            exhausted = await client.post("/api/workflows/copy_image/run", json={"images": {"image": image}},
                                          headers=bearer(key))
            assert (await refusal(exhausted))[:2] == (429, "rate_limit_exceeded")
            me = await client.get("/api/auth/me", headers=bearer(key))
            assert (await me.json())["rate_limit"]["remaining"] == 0

    run(scenario())


def test_static_names_are_looked_up_never_handed_to_the_file_system(tmp_path):
    """A name longer than the file system allows was a 500 (OSError from aiohttp's static route)."""
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, _key):
            shipped = await client.get("/static/app.js")
            assert shipped.status == 200 and "javascript" in shipped.content_type
            for name in ["a" * 3000, "..%2F..%2Fpyproject.toml", "nothing.js", "app.js%00"]:
                status, code, _ = await refusal(await client.get(f"/static/{name}"))
                assert (status, code) == (404, "not_found"), name

    run(scenario())


def test_a_declared_body_over_the_limit_is_413_without_waiting_for_it(tmp_path):
    """A Content-Length over security.max_body_mb, with no body sent: 413 from the headers alone (it was a 408
    once the body timeout ran out, here set to 2 s)."""
    async def scenario():
        async with running_app(make_settings(tmp_path, SERVER__BODY_TIMEOUT_SECONDS=2)) as (client, _, key):
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
            writer.write(f"POST /api/privacy/mask HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n{".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            writer.close()
            assert head.startswith(b"HTTP/1.1 413 "), head

    run(scenario())
