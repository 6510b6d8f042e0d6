"""Property-based fuzzing of every JSON endpoint over real HTTP (hypothesis, derandomized: the same examples on
every run). Random types, sizes, nesting and unicode, in known fields and unknown ones, and raw bytes: never a
500, never a hang, never a traceback or a server path in a response, and errors always in the one shape."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import threading
from urllib.parse import quote

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings, strategies as st

from playalter.runner.server.http.app import create_app
from playalter.runner.server.http.auth import SECURITY

from server_app_helpers import make_settings, png_bytes

FIELDS = {
    "/api/face/analyze": ["image_base64", "include_measurements", "include_landmarks", "include_3d_mesh",
                          "mesh_format", "measurement_model"],
    "/api/privacy/mask": ["image_base64", "mask_type", "strength", "create_levels", "include_audit", "thorough"],
    "/api/face/swap": ["source_image_base64", "target_image_base64", "source_face_index", "target_face_index"],
    "/api/batch/process": ["images_base64", "operation", "parameters"],
    "/api/workflows/copy_image/run": ["images", "inputs", "async"],
    "/api/keys": ["tier", "name", "scopes", "expires"],
}
# 5xx a client may legitimately get: busy, a model not installed, processing too long
ALLOWED_5XX = {"queue_full", "model_missing", "timeout"}
FUZZ = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TINY_PNG = base64.b64encode(png_bytes(8, 8)).decode()
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2, 70) | st.floats(allow_nan=False)
           | st.text(max_size=30) | st.sampled_from(["blur", "solid", "privacy", "detect", "admin", "basic",
                                                     "output.filename_prefix", "image", "QQ==", TINY_PNG,
                                                     "data:image/png;base64," + TINY_PNG, "\x00", "../../x"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=24) | st.sampled_from(["image", "output.filename_prefix",
                                                                                     "1.image", "privacy.strength"]),
                                             inner, max_size=4),
                           max_leaves=12)


class ServedApp:
    """The service on a real local socket, its event loop on a thread, so that a synchronous test can call it."""

    def __init__(self, app: web.Application):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = web.AppRunner(app)
        self._wait(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self._wait(site.start())
        self.port = self.runner.addresses[0][1]

    def _wait(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        self._wait(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    app = create_app(make_settings(root, SECURITY__MAX_BODY_MB=2))
    served = ServedApp(app)
    yield served, app[SECURITY].admin_key, str(root)
    served.close()


def post(service, path: str, body: bytes) -> tuple[int, str]:
    served, key, _ = service
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)  # a hang fails the test
    try:
        connection.request("POST", path, body=body,
                           headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def check_answer(service, status: int, text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text
    assert service[2] not in text  # no server path
    if status < 400:
        return
    error = json.loads(text)["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert len(text) < 4000
    assert status < 500 or error["code"] in ALLOWED_5XX, (status, error)


@FUZZ
@given(path=st.sampled_from(sorted(FIELDS)), data=st.data())
def test_json_bodies_of_random_shape_never_break_an_endpoint(service, path, data):
    fields = st.sampled_from(FIELDS[path]) | st.text(max_size=12)
    body = data.draw(st.dictionaries(fields, json_values, max_size=6) | json_values, label="body")
    status, text = post(service, path, json.dumps(body).encode())
    check_answer(service, status, text)


@FUZZ
@given(name=st.text(min_size=1, max_size=80), body=st.dictionaries(st.sampled_from(["images", "inputs", "async"]),
                                                                   json_values, max_size=3))
def test_workflow_names_of_any_text_are_refused_cleanly(service, name, body):
    status, text = post(service, f"/api/workflows/{quote(name, safe='')}/run", json.dumps(body).encode())
    check_answer(service, status, text)
    assert status != 200 or name == "copy_image"


@FUZZ
@given(path=st.sampled_from(sorted(FIELDS)),
       raw=st.binary(max_size=300)
       | st.integers(1, 50_000).map(lambda depth: b"[" * depth)
       | st.tuples(st.integers(1, 5000), st.sampled_from([b"[", b'{"a":', b'{"images":{"x":'])).map(
           lambda pair: pair[1] * pair[0])
       | st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass"))
       | st.integers(1, 3_000_000).map(lambda size: b'{"image_base64": "' + b"A" * size + b'"}'))
def test_raw_bytes_of_any_kind_are_a_clean_400_or_413(service, path, raw):
    status, text = post(service, path, raw)
    check_answer(service, status, text)
    assert status < 500
