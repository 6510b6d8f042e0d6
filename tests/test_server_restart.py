"""A batch job survives ``kill -9`` of ``playalter serve``: after a restart it is resumed and finishes."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from server_app_helpers import b64

FINAL = ("completed", "failed", "cancelled")


class Server:
    """``playalter serve --port 0`` as a child process; ``url`` and ``admin_key`` parsed from its banner."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "playalter.runner.cli.main", "serve", "--port", "0", "--workers", "1"],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=open(workdir / "serve.log", "ab"), text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True).start()
        self.url, self.admin_key = None, None
        deadline = time.monotonic() + 120
        while self.url is None or (self.admin_key is None and "Stop with" not in self._last):
            self._last = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if match := re.search(r"serving on (http://\S+)", self._last):
                self.url = match.group(1)
            if match := re.search(r"^\s+(pa_live_\S+)$", self._last):
                self.admin_key = match.group(1)

    _last = ""

    def call(self, method: str, path: str, key: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(self.url + path, method=method, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def test_batch_is_resumed_after_kill_9(tmp_path, t1_path):
    env = {**os.environ, "PLAYALTER__PATHS__DATA_DIR": str(tmp_path / "data")}
    first = Server(tmp_path, env)
    try:
        key = first.admin_key
        assert key is not None, "the first start prints the admin key"
        image = b64(t1_path.read_bytes())
        job = first.call("POST", "/api/batch/process", key, {"images_base64": [image] * 5, "operation": "detect"})
        deadline = time.monotonic() + 180
        while True:
            state = first.call("GET", f"/api/jobs/{job['id']}", key)
            if state["progress"]["completed"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        first.kill()
    finally:
        first.stop()
    assert state["state"] not in FINAL, "the batch must still be running when the server is killed"
    done_before_kill = state["progress"]["completed"]

    second = Server(tmp_path, env)
    try:
        assert second.admin_key is None  # the key store survived; no new admin key
        deadline = time.monotonic() + 300
        while True:
            state = second.call("GET", f"/api/jobs/{job['id']}", key)
            if state["state"] in FINAL or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    finally:
        second.stop()
    assert state["state"] == "completed", state
    assert [item["state"] for item in state["items"]] == ["completed"] * 5
    assert done_before_kill < 5
