"""The four answers an attacker's trial found wrong, and the exception texts that reached responses.

A corrupt Content-Encoding is 400 in the error shape, an unknown Expect header is a JSON 417 quoting at most
40 characters, an event stream whose client leaves is 499 (not a 500), a workflow name with a final newline
is 400; messages say in the project's words what Python or Pillow said in theirs.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import zlib

from contextlib import asynccontextmanager

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from playalter.runner.engine.errors import NodeExecutionError
from playalter.pipelines.core.quoting import EXCERPT_CHARACTERS
from playalter.runner.server.http import endpoints
from playalter.runner.server.http.app import create_app
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.runner.server.http.auth import KEYSTORE, SECURITY
from playalter.runner.server.http.connections import GuardedAppRunner
from playalter.runner.server.jobs.dispatcher import DISPATCHER
from playalter.runner.server.jobs.runs import describe_error
from playalter.runner.server.security.keys import parse_expiry

from serve_process import ServeProcess
from server_app_helpers import b64, bearer, make_settings, png_bytes, running_app
from test_server_connections import request


def run(coroutine):
    return asyncio.run(coroutine)


def log_records(tmp_path, name: str) -> list[dict]:
    path = tmp_path / "data" / "logs" / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


async def audit_row(app, operation: str) -> sqlite3.Row:
    """The first audit row of ``operation``, once the log (which writes on its own thread) has it."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(app[SECURITY].audit.db_path) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM audit_log WHERE operation = ?", (operation,)).fetchone()
        if row is not None or time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.05)


CORRUPT_BODIES = [
    pytest.param("deflate", b"\xff\x00garbage that is not deflate", id="deflate-garbage"),
    pytest.param("gzip", b"\x1f\x8b\x09\x00not a gzip header", id="gzip-bad-header"),
    pytest.param("gzip", b'{"image_base64": "QQ=="}', id="gzip-on-plain-json"),
]


@pytest.mark.parametrize("encoding, body", CORRUPT_BODIES)
def test_a_body_that_does_not_match_its_content_encoding_is_400_without_a_traceback(tmp_path, encoding, body):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            for path in ("/api/privacy/mask", "/api/keys"):
                response = await client.post(path, data=body, headers={
                    **bearer(key), "Content-Type": "application/json", "Content-Encoding": encoding})
                error = (await response.json())["error"]
                assert response.status == 400, error
                assert error["code"] == "invalid_body" and f"Content-Encoding '{encoding}'" in error["message"]
            # the same body sent as declared is read
            valid = await client.post("/api/privacy/mask", data=zlib.compress(b'{"image_base64": 5}'), headers={
                **bearer(key), "Content-Type": "application/json", "Content-Encoding": "deflate"})
            assert (await valid.json())["error"]["code"] == "invalid_request"  # the schema, not the encoding

    run(scenario())
    errors = log_records(tmp_path, "errors.jsonl")
    assert not [record for record in errors if record["level"] == "ERROR"], errors


@pytest.mark.parametrize("path", ["/api/privacy/mask", "/no/such/endpoint"])
def test_an_unknown_expect_header_is_a_json_417_quoting_at_most_40_characters_before_auth(tmp_path, path):
    attack = "<script>alert(1)</script>" + "x" * 3000

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            response = await client.post(path, data=b"{}", headers={"Expect": attack})  # no credentials
            assert response.status == 417
            assert response.content_type == "application/json"
            error = (await response.json())["error"]
            assert error["code"] == "expectation_failed"
            quoted = error["message"].split("'")[1]
            assert quoted.startswith("<script>alert(1)</script>xxx") and "(3025 characters)" in quoted
            assert len(quoted.split("...")[0]) == EXCERPT_CHARACTERS
            # the usual Expect still works, and auth then applies
            normal = await client.post(path, data=b"{}", headers={"Expect": "100-continue"})
            assert normal.status in (401, 404)

    run(scenario())


@asynccontextmanager
async def served(settings, runner: str):
    """(base URL, app, admin key): the app behind ``playalter serve``'s runner, or aiohttp's test server (which
    cancels a handler when its client leaves, where the served app finds out at its next write)."""
    app = create_app(settings)
    if runner == "test server":
        async with TestServer(app) as server:
            yield str(server.make_url("")).rstrip("/"), app, app[SECURITY].admin_key
        return
    served_runner = GuardedAppRunner(app, access_log=None)
    await served_runner.setup()
    site = web.TCPSite(served_runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = served_runner.addresses[0][:2]
        yield f"http://{host}:{port}", app, app[SECURITY].admin_key
    finally:
        await served_runner.cleanup()


@pytest.mark.parametrize("runner", ["serve", "test server"])
def test_an_event_stream_whose_client_leaves_is_recorded_as_499_not_as_a_server_error(tmp_path, monkeypatch, runner):
    monkeypatch.setattr(endpoints, "SSE_KEEPALIVE_SECONDS", 0.05)  # a write soon after the client left

    async def scenario():
        async with served(make_settings(tmp_path), runner) as (url, app, key), ClientSession() as session:
            images = [b64(png_bytes(seed=seed)) for seed in range(8)]
            async with session.post(f"{url}/api/batch/process", headers=bearer(key),
                                    json={"images_base64": images, "operation": "detect"}) as created:
                job_id = (await created.json())["id"]
            host, port = url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET /api/jobs/{job_id}/events HTTP/1.1\r\nHost: test\r\n"
                         f"Authorization: Bearer {key}\r\n\r\n".encode())
            await writer.drain()
            await asyncio.wait_for(reader.readuntil(b"event: job"), 10)
            writer.close()
            await writer.wait_closed()
            row = await audit_row(app, "jobs.events")
            assert (row["status"], row["outcome"]) == (499, "client_closed_request")
            async with session.get(f"{url}/metrics", headers=bearer(key)) as response:
                metrics = await response.text()
            counted = [line for line in metrics.splitlines()
                       if line.startswith('playalter_http_requests_total{endpoint="/api/jobs/{job_id}/events"')]
            assert counted and all('status="499"' in line for line in counted), counted
            await app[DISPATCHER].wait(await asyncio.to_thread(app[DISPATCHER].store.get, job_id))

    run(scenario())
    assert not [record for record in log_records(tmp_path, "errors.jsonl") if record["level"] == "ERROR"]


@pytest.mark.parametrize("name", ["privacy_blur%0A", "privacy_blur%0D%0A", "%0Aprivacy_blur", "privacy%00blur",
                                  "a" * 65])
def test_a_workflow_name_with_a_newline_or_too_long_is_400(tmp_path, name):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            response = await client.post(f"/api/workflows/{name}/run", json={}, headers=bearer(key))
            error = (await response.json())["error"]
            assert (response.status, error["code"]) == (400, "invalid_workflow_name")

    run(scenario())


def test_an_unknown_workflow_name_is_quoted_by_the_quoting_rules(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            response = await client.post(f"/api/workflows/{'a' * 64}/run", json={}, headers=bearer(key))
            error = (await response.json())["error"]
            assert (response.status, error["code"]) == (404, "workflow_not_found")
            assert f"'{'a' * EXCERPT_CHARACTERS}... (64 characters)'" in error["message"]

    run(scenario())


def test_an_api_key_with_a_final_newline_is_refused_and_an_expiry_is_quoted_by_the_rules(tmp_path):
    """HTTP headers cannot carry a newline, but the key store also serves the CLI."""
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (_, app, key):
            assert app[KEYSTORE].check(key).principal is not None
            assert app[KEYSTORE].check(key + "\n").principal is None

    run(scenario())
    with pytest.raises(InvalidParameterError, match=r"'x{40}\.\.\. \(5000 characters\)'"):
        parse_expiry("x" * 5000, now=0)


# --- exception texts in our own words -------------------------------------------------------------

PYTHON_AND_PILLOW_TEXTS = ("int too large", "convert to float", "image file is truncated", "bytes not processed",
                           "could not convert", "Traceback", "Expecting value", "Exceeds the limit")


def assert_own_words(text: str) -> None:
    assert not [phrase for phrase in PYTHON_AND_PILLOW_TEXTS if phrase in text], text


@pytest.mark.parametrize("value, problem", [
    (10 ** 400, "an integer of 1329 bits"),
    ("1e999", "1e999"),
    ("nan", "nan"),
    ("abc", "abc"),
])
def test_a_number_a_float_cannot_hold_is_refused_in_our_words(tmp_path, value, problem):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            body = json.dumps({"images": {"image": b64(png_bytes())}, "inputs": {"privacy.strength": value}})
            response = await client.post("/api/workflows/privacy_blur/run", data=body, headers=bearer(key))
            text = await response.text()
            assert response.status == 400, text
            error = json.loads(text)["error"]
            assert error["code"] == "workflow_invalid"
            assert f"Failed to convert an input value to a FLOAT value: strength, {problem}" in error["message"]
            reason = error["details"]["node_errors"]["3"]["errors"][0]
            assert reason["type"] == "invalid_input_type"
            assert_own_words(text)

    run(scenario())


def test_a_truncated_image_is_refused_in_our_words(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            truncated = b64(png_bytes()[:300])  # Pillow: "image file is truncated (... bytes not processed)"
            response = await client.post("/api/privacy/mask", json={"image_base64": truncated}, headers=bearer(key))
            text = await response.text()
            assert response.status == 422, text
            error = json.loads(text)["error"]
            assert error["code"] == "invalid_image" and "truncated or damaged" in error["message"]
            assert_own_words(text)

    run(scenario())


def test_a_body_with_a_number_too_long_to_read_is_refused_in_our_words(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            for body in (b'{"image_base64": ' + b"9" * 5000 + b"}", b'{"image_base64": }'):
                response = await client.post("/api/privacy/mask", data=body, headers=bearer(key))
                text = await response.text()
                assert response.status == 400 and json.loads(text)["error"]["code"] == "invalid_json", text
                assert_own_words(text)

    run(scenario())


def test_an_unexpected_failure_inside_a_node_is_named_not_quoted(caplog):
    try:
        try:
            1 / 0
        except ZeroDivisionError as cause:
            raise NodeExecutionError("7", "PlayAlterFaceDetect", f"ZeroDivisionError: {cause}",
                                     "ZeroDivisionError") from cause
    except NodeExecutionError as error:
        described = describe_error(error)
    assert described["code"] == "node_failed"
    assert described["message"] == "node 7 (PlayAlterFaceDetect) failed unexpectedly; the error has been logged"
    assert "division by zero" not in json.dumps(described)
    assert "division by zero" in caplog.text  # kept for the operator


def test_a_save_json_node_given_broken_json_says_where_in_our_words():
    from playalter.nodes.io import PlayAlterSaveJSON

    with pytest.raises(InvalidParameterError) as raised:
        PlayAlterSaveJSON().save("{\n  'single quotes'}")
    assert str(raised.value) == "json_text is not valid JSON (line 2, column 3); connect a JSON output"


def test_playalter_serve_gives_the_same_answers_on_the_wire(tmp_path):
    """Through the served protocol, where aiohttp itself refuses what it cannot decode (br without Brotli)."""
    server = ServeProcess(tmp_path)
    try:
        def post(path: str, headers: str, body: bytes = b"{}") -> tuple[int, dict]:
            raw = (f"POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {server.admin_key}\r\n{headers}"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
            status, _, answer = request(server.port, raw)
            return status, json.loads(answer)["error"]

        for encoding in ("br", "zstd"):
            assert post("/api/privacy/mask", f"Content-Encoding: {encoding}\r\n") == (400, {
                "code": "invalid_body", "message": "the request's Content-Encoding is not supported here; send the "
                                                   "body compressed with gzip or deflate, or uncompressed"})
        status, error = post("/api/privacy/mask", "Content-Encoding: gzip\r\n", b'{"image_base64": "QQ=="}')
        assert (status, error["code"]) == (400, "invalid_body")
        status, error = post("/api/privacy/mask", f"Expect: {'<script>' * 400}\r\n")
        assert (status, error["code"]) == (417, "expectation_failed") and "(3200 characters)" in error["message"]
        status, error = post("/api/workflows/privacy_blur%0A/run", "")
        assert (status, error["code"]) == (400, "invalid_workflow_name")
    finally:
        server.stop()
    assert '"level": "ERROR"' not in server.logs_text()


def test_a_long_option_value_refused_by_the_engine_is_quoted_by_the_rules(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, _, key):
            body = {"images": {"image": b64(png_bytes())}, "inputs": {"privacy.color": "<script>\n" * 300}}
            response = await client.post("/api/workflows/privacy_blur/run", json=body, headers=bearer(key))
            error = (await response.json())["error"]
            assert (response.status, error["code"]) == (400, "invalid_parameter")
            assert error["message"] == ("color must look like '#RRGGBB' (hex), got "
                                        "'<script>?<script>?<script>?<script>?<scr... (2700 characters)'")

    run(scenario())
