"""Stopping and cutting off: SIGTERM to ``serve`` drains it (``/ready`` 503, new requests 503, the request in flight
answered), and an upload cut off mid-body leaves nothing behind. (kill -9 of serve: test_server_restart.py and
test_video_http.py; of a queue worker: test_scale_cluster.py; SIGTERM to a worker: test_faults_databases.py.)"""

from __future__ import annotations

import asyncio
import json
import signal

import aiohttp

from playalter.runner.server.jobs.dispatcher import DISPATCHER
from serve_process import ServeProcess
from server_app_helpers import b64, bearer, make_settings, png_bytes, running_app


def test_sigterm_stops_admitting_and_answers_the_request_in_flight(tmp_path):
    make_settings(tmp_path)  # writes the copy_image workflow under tmp_path / "workflows"
    server = ServeProcess(tmp_path, SERVER__SHUTDOWN_GRACE_SECONDS=30, PATHS__WORKFLOWS_DIR=tmp_path / "workflows")
    url, headers = f"http://127.0.0.1:{server.port}", bearer(server.admin_key)
    body = json.dumps({"images": {"image": b64(png_bytes())}}).encode()

    async def slowly():  # the request is in flight while its body arrives, over about 3 s
        for start in range(0, len(body), len(body) // 10 + 1):
            yield body[start:start + len(body) // 10 + 1]
            await asyncio.sleep(0.3)

    async def scenario():
        async with aiohttp.ClientSession() as session:
            in_flight = asyncio.create_task(session.post(f"{url}/api/workflows/copy_image/run", data=slowly(),
                                                         headers={**headers, "Content-Type": "application/json"}))
            await asyncio.sleep(1.0)
            server.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            async with aiohttp.ClientSession() as fresh:  # new connections are still accepted, and refused
                ready = await fresh.get(f"{url}/ready")
                assert ready.status == 503 and (await ready.json())["status"] == "shutting_down"
                refused = await fresh.post(f"{url}/api/workflows/copy_image/run", json=json.loads(body),
                                           headers=headers)
                assert refused.status == 503 and (await refused.json())["error"]["code"] == "shutting_down"
                assert int(refused.headers["Retry-After"]) > 0
            answer = await in_flight
            assert answer.status == 200, await answer.text()
            assert (await answer.json())["images"]

    try:
        asyncio.run(scenario())
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()
    assert "Traceback" not in server.stderr_text()


def test_an_upload_cut_off_mid_body_leaves_nothing_behind(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            boundary = "cutoff"
            head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"clip.mp4\"\r\n"
                    "Content-Type: video/mp4\r\n\r\n").encode() + b"\0" * (256 << 10)
            request = (f"POST /api/video/anonymize HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                       f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                       f"Content-Length: {len(head) + (4 << 20)}\r\n\r\n").encode() + head
            reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
            writer.write(request)
            await writer.drain()
            staging = app[DISPATCHER].store.root / ".staging"
            for _ in range(100):  # the upload is being received into its staging file
                if staging.is_dir() and list(staging.iterdir()):
                    break
                await asyncio.sleep(0.05)
            assert list(staging.iterdir()), "the upload was being staged"
            writer.transport.abort()  # the client goes away mid-body
            for _ in range(100):
                if not list(staging.iterdir()):
                    break
                await asyncio.sleep(0.05)
            assert list(staging.iterdir()) == []
            assert app[DISPATCHER].store.count_by_state() == {}

    asyncio.run(scenario())
