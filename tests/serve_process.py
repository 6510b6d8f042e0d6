"""``playalter serve`` as a real server process for tests: its URL, first admin key, stderr and data folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path


class ServeProcess:
    """Start ``playalter serve --port 0`` with settings ``PLAYALTER__<name>=value`` and data under ``workdir``."""

    def __init__(self, workdir: Path, **settings: object):
        self.data_dir = workdir / "data"
        self.stderr_path = workdir / "serve.stderr"
        environ = {**os.environ, "PLAYALTER__PATHS__DATA_DIR": str(self.data_dir),
                   "PLAYALTER__PATHS__INPUT_DIR": str(workdir / "input"),
                   "PLAYALTER__PATHS__OUTPUT_DIR": str(workdir / "output"),
                   "PLAYALTER__SERVER__WORKERS": "1",
                   **{f"PLAYALTER__{name}": str(value) for name, value in settings.items()}}
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "playalter.runner.cli.main", "serve", "--port", "0"],
                                        cwd=workdir, env=environ, stdout=subprocess.PIPE, stderr=self._stderr)
        banner = self._read_banner(deadline=time.monotonic() + 120)
        self.port = int(re.search(r"serving on http://127\.0\.0\.1:(\d+)", banner).group(1))
        self.admin_key = re.search(r"pa_live_[A-Za-z0-9_-]+", banner).group(0)

    def _read_banner(self, deadline: float) -> str:
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline().decode()
            if not line:
                break
            lines.append(line)
            if line.startswith("Stop with"):
                return "".join(lines)
        self.stop()
        raise RuntimeError(f"serve did not start: {''.join(lines)}{self.stderr_text()}")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def logs_text(self) -> str:
        """Every log file the server wrote, concatenated."""
        return "".join(path.read_text(errors="replace") for path in sorted((self.data_dir / "logs").glob("*.jsonl")))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._stderr.close()
