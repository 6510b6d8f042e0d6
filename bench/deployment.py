"""The server processes of one bench setup: real ``playalter`` processes over loopback, used by load.py and scale.py.

A ``Deployment`` owns a folder (data, input, logs, each process's stderr), the environment its processes share (the
bench's own settings on top of folders, the repository's models and one onnxruntime thread per process), an
enterprise API key, and every process it spawned, so that it can report their memory and stop them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from ports import free_port  # noqa: E402

START_SECONDS = 120.0  # how long a server may take to answer /health
STOP_SECONDS = 60.0  # how long a process may take to exit after SIGTERM before it is killed


class Deployment:
    """The server processes of one setup, their environment and an enterprise key.

    ``settings``: the bench's ``PLAYALTER__...`` environment variables; with ``database_url`` the database is
    migrated here (``playalter db upgrade``) and gets an audit checkpoint secret; with ``redis_url`` rate limits
    are kept in Redis.
    """

    def __init__(self, root: Path, settings: dict[str, str], database_url: str | None = None,
                 redis_url: str | None = None):
        (root / "input").mkdir(parents=True)
        self.root = root
        self.env = {**os.environ, "PLAYALTER__PATHS__DATA_DIR": str(root / "data"),
                    "PLAYALTER__PATHS__INPUT_DIR": str(root / "input"),
                    "PLAYALTER__PATHS__MODELS_DIR": str(ROOT / "models"),
                    "PLAYALTER__SERVER__ONNX_THREADS": "1", **settings}
        if database_url:
            self.env["PLAYALTER__DATABASE__URL"] = database_url
            self.env["PLAYALTER__SECURITY__AUDIT_CHECKPOINT_SECRET"] = "bench-" + "c" * 40
            self.cli("db", "upgrade")
        if redis_url:
            self.env["PLAYALTER__RATE_LIMIT__STORAGE"] = redis_url
        self.processes: dict[str, subprocess.Popen] = {}
        self.key = json.loads(self.cli("keys", "create", "--tier", "enterprise", "--json"))["api_key"]

    def cli(self, *args: str) -> str:
        """The standard output of one ``playalter`` command run to its end (an error if it fails)."""
        return subprocess.run([sys.executable, "-m", "playalter.runner.cli.main", *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=120).stdout

    def spawn(self, name: str, *args: str) -> subprocess.Popen:
        """A ``playalter`` process left running under ``name`` (its logs in logs/NAME, its stderr in NAME.stderr)."""
        env = {**self.env, "PLAYALTER__LOGGING__DIR": str(self.root / "logs" / name)}
        self.processes[name] = subprocess.Popen([sys.executable, "-m", "playalter.runner.cli.main", *args], env=env,
                                                stdout=subprocess.DEVNULL,
                                                stderr=open(self.root / f"{name}.stderr", "wb"))
        return self.processes[name]

    def serve(self, name: str, workers: int) -> str:
        """The base URL of a ``playalter serve --workers WORKERS`` on a free loopback port, once it answers."""
        port = free_port()
        self.spawn(name, "serve", "--workers", str(workers), "--port", str(port), "--host", "127.0.0.1")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=5).close()
                return base
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{name} did not start (see {self.root / f'{name}.stderr'})")

    def memory_mb(self) -> dict[str, float]:
        """Resident memory of each live process, MB."""
        sizes = {}
        for name, process in self.processes.items():
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except FileNotFoundError:
                continue
            kilobytes = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            sizes[name] = kilobytes / 1024
        return sizes

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after ``STOP_SECONDS``) and forget them."""
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
