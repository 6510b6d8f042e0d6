"""``playalter serve`` as a newcomer meets it (issue 12 items 13, 14, 11): a busy port is a clear message and
creates nothing; the printed example runs as printed (first start and restart) and writes a PNG; every file
the service creates is private to its user."""

from __future__ import annotations

import errno
import os
import queue
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

from playalter.runner.cli.commands.serve import cannot_listen_message

REPO_PARENT = Path(__file__).resolve().parents[2]


def serve_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "playalter.runner.cli.main", "serve", *arguments]


def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PLAYALTER__PATHS__DATA_DIR": str(tmp_path / "data"), "PLAYALTER__SERVER__WORKERS": "1"}


def test_a_busy_port_is_a_clear_message_and_creates_no_key(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        finished = subprocess.run(serve_command("--port", str(port)), cwd=tmp_path, env=environment(tmp_path),
                                  capture_output=True, text=True, timeout=120)
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr + finished.stdout
    assert f"port {port} on 127.0.0.1 is already in use" in finished.stderr
    assert "playalter serve --port " in finished.stderr
    assert not (tmp_path / "data").exists(), "nothing (no admin key) is created before the port is bound"


def test_a_port_out_of_range_is_a_clear_message_and_creates_nothing(tmp_path, capsys, monkeypatch):
    """It was an OverflowError traceback from bind()."""
    from playalter.runner.cli.main import main

    monkeypatch.setenv("PLAYALTER__PATHS__DATA_DIR", str(tmp_path / "data"))
    assert main(["serve", "--port", "70000"]) == 2
    assert capsys.readouterr().err == "error: server.port must be 0-65535 (0: any free port)\n"
    assert not (tmp_path / "data").exists()


def test_the_busy_port_message_names_comfyui_and_a_free_port():
    message = cannot_listen_message("127.0.0.1", 8188, OSError(errno.EADDRINUSE, "Address already in use"))
    assert "ComfyUI's default port" in message
    suggested = int(message.rsplit("--port ", 1)[1])
    with socket.create_server(("127.0.0.1", suggested)):
        pass  # the suggested port really is free
    denied = cannot_listen_message("127.0.0.1", 80, OSError(errno.EACCES, "Permission denied"))
    assert "need privileges" in denied


class Served:
    """``playalter serve --port 0`` as a child process, with its banner lines."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.process = subprocess.Popen(serve_command("--port", "0"), cwd=cwd, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True).start()
        self.lines: list[str] = []
        deadline = time.monotonic() + 120
        while not self.lines or not self.lines[-1].startswith("Stop with"):
            self.lines.append(lines.get(timeout=max(0.1, deadline - time.monotonic())).rstrip("\n"))

    def example(self) -> str:
        start = next(i for i, line in enumerate(self.lines) if line.startswith("Try it:")) + 1
        end = self.lines.index("", start)
        return "\n".join(self.lines[start:end])

    def admin_key(self) -> str | None:
        marker = "It is shown only now; store it:"
        for index, line in enumerate(self.lines):
            if marker in line:
                return self.lines[index + 1].strip()
        return None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def run_example(command: str, cwd: Path, env: dict[str, str]) -> Path:
    (cwd / "anonymized.png").unlink(missing_ok=True)
    subprocess.run(["bash", "-c", "set -euo pipefail\n" + command], cwd=cwd, env=env, check=True, timeout=300)
    return cwd / "anonymized.png"


def test_the_printed_example_writes_an_image_on_first_start_and_after_a_restart(tmp_path, t1_path):
    env = environment(tmp_path)
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    first = Served(tmp_path, env)
    try:
        key = first.admin_key()
        assert key and key.startswith("pa_live_")
        example = first.example()
        assert "head -c" not in example and "'Authorization" not in example
        result = run_example(example, client_dir, {**os.environ, "PLAYALTER_API_KEY": "not-this-one"})
        with Image.open(result) as image:
            assert image.format == "PNG" and image.size == Image.open(t1_path).size
    finally:
        first.stop()

    second = Served(tmp_path, env)
    try:
        assert second.admin_key() is None
        example = second.example()
        assert '"Authorization: Bearer $PLAYALTER_API_KEY"' in example
        result = run_example(example, client_dir, {**os.environ, "PLAYALTER_API_KEY": key})
        assert Image.open(result).format == "PNG"
    finally:
        second.stop()

    for path in (tmp_path / "data").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path.relative_to(tmp_path)}: {oct(mode)}"
