"""Slow clients, connection floods and malformed HTTP against a real ``playalter serve`` process."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from serve_process import ServeProcess

CLOSE_BOUND_SECONDS = 40  # generous: the timeouts below are 1 and 2 s, plus aiohttp's 10 s lingering close


@pytest.fixture
def server(tmp_path):
    serve = ServeProcess(tmp_path, SERVER__HEADER_TIMEOUT_SECONDS=1, SERVER__BODY_TIMEOUT_SECONDS=2,
                         SERVER__MAX_CONNECTIONS=12, SERVER__MAX_CONNECTIONS_PER_IP=8)
    yield serve
    serve.stop()


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to the server from ``source`` (any 127.x.y.z address is this host on Linux)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=CLOSE_BOUND_SECONDS, source_address=(source, 0))
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (raises socket.timeout if it never does)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def request(port: int, raw: bytes, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    with connect(port, source) as sock:
        sock.sendall(raw)
        return parse(read_until_closed(sock))


def get(port: int, path: str, source: str = "127.0.0.1", headers: str = "") -> tuple[int, dict[str, str], bytes]:
    return request(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode(), source)


class Trickler(threading.Thread):
    """Sends ``prefix`` then one more byte of ``drip`` every 0.2 s, until the server closes the connection."""

    def __init__(self, port: int, prefix: bytes, drip: bytes, source: str = "127.0.0.1"):
        super().__init__(daemon=True)
        self.sock = connect(port, source)
        self.prefix, self.drip = prefix, drip
        self.started = time.monotonic()
        self.closed_after: float | None = None
        self.answer = b""

    def run(self) -> None:
        self.sock.sendall(self.prefix)
        self.sock.setblocking(False)
        try:
            for index in range(int(CLOSE_BOUND_SECONDS / 0.2)):
                try:
                    chunk = self.sock.recv(65536)
                except BlockingIOError:
                    chunk = None
                if chunk == b"":
                    break
                self.answer += chunk or b""
                self.sock.send(self.drip[index % len(self.drip):][:1])
                time.sleep(0.2)
            else:
                return  # still open at the bound
        except OSError:  # reset by the server
            pass
        self.closed_after = time.monotonic() - self.started
        self.sock.close()


def test_slow_headers_and_slow_bodies_are_dropped_while_normal_clients_are_served(server):
    partial_head = b"GET /health HTTP/1.1\r\nHost: x\r\n"
    key = server.admin_key
    body_head = (f"POST /api/face/analyze HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                 "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{").encode()
    slow = [Trickler(server.port, partial_head, b"X-Slow: 1\r\n", source="127.0.0.2") for _ in range(6)]
    slow += [Trickler(server.port, body_head, b"     ", source="127.0.0.3") for _ in range(3)]
    silent = connect(server.port, source="127.0.0.4")  # connects and never sends a byte
    for client in slow:
        client.start()
    status, headers, body = get(server.port, "/health")  # served while the slow ones hang
    assert status == 200 and json.loads(body)["version"]
    for client in slow:
        client.join(CLOSE_BOUND_SECONDS + 5)
    assert [client.closed_after is not None for client in slow] == [True] * len(slow)
    assert {parse(client.answer)[0] for client in slow[:6]} == {408}
    assert {parse(client.answer)[0] for client in slow[6:]} == {408}
    error = json.loads(parse(slow[6].answer)[2])["error"]
    assert error["code"] == "request_timeout" and "body" in error["message"]
    assert parse(read_until_closed(silent))[0] == 408
    silent.close()
    server.stop()
    events = [json.loads(line) for line in (server.data_dir / "logs" / "security.jsonl").read_text().splitlines()]
    phases = sorted(event["phase"] for event in events if event["event"] == "slow_client")
    assert phases == ["body"] * 3 + ["headers"] * 7


def test_a_connection_flood_is_capped_per_address_and_in_total(tmp_path):
    server = ServeProcess(tmp_path, SERVER__HEADER_TIMEOUT_SECONDS=5, SERVER__MAX_CONNECTIONS=12,
                          SERVER__MAX_CONNECTIONS_PER_IP=8)
    try:
        flood(server)
    finally:
        server.stop()


def flood(server: ServeProcess) -> None:
    held = [connect(server.port, source="127.0.0.2") for _ in range(8)]  # the per-address cap
    refused = connect(server.port, source="127.0.0.2")
    status, headers, body = parse(read_until_closed(refused))
    assert status == 503 and headers["retry-after"] == "5"
    assert json.loads(body)["error"]["code"] == "too_many_connections"
    assert get(server.port, "/health", source="127.0.0.3")[0] == 200  # another address is still served
    held += [connect(server.port, source="127.0.0.3") for _ in range(4)]  # 12: the total cap
    time.sleep(0.5)
    assert get(server.port, "/health", source="127.0.0.5")[0] == 503
    for sock in held:  # the held connections send nothing: the header timeout closes them
        assert parse(read_until_closed(sock))[0] == 408
        sock.close()
    assert get(server.port, "/health", source="127.0.0.5")[0] == 200  # capacity is back


def test_an_oversized_header_holding_a_key_is_a_json_400_and_the_key_is_logged_nowhere(server):
    key = server.admin_key
    padding = "x" * 9000
    status, headers, body = get(server.port, "/api/auth/me", headers=f"X-API-Key: {key}{padding}\r\n")
    assert status == 400 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert key.encode() not in body and b"xxxx" not in body
    status, headers, body = get(server.port, "/api/auth/me", headers=f"X-Long: {padding}\r\nX-API-Key: {key}\r\n")
    assert status == 400 and key.encode() not in body
    status, headers, body = get(server.port, f"/api/nothing-here/{key}", headers=f"Authorization: Bearer {key}\r\n")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found" and key.encode() not in body
    assert headers["server"] == "playalter"
    status, headers, body = request(server.port, f"PUT /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                                 f"Authorization: Bearer {key}\r\n\r\n".encode())
    assert status == 405 and json.loads(body)["error"]["code"] == "method_not_allowed"
    server.stop()
    secret = key.split("_", 3)[3]  # pa, live, key id, then the secret, which may itself hold "_"
    assert secret[:12] not in server.stderr_text()
    assert secret[:12] not in server.logs_text()
    assert "bad_http_request" in (server.data_dir / "logs" / "security.jsonl").read_text()


def test_serve_writes_the_four_logs_and_hides_its_versions(server):
    status, headers, _ = get(server.port, "/health")
    assert status == 200 and headers["server"] == "playalter"
    status, headers, _ = get(server.port, "/api/auth/me", headers="Authorization: Bearer pa_live_000000000000_nope\r\n")
    assert status == 401 and headers["server"] == "playalter"
    server.stop()
    logs = server.data_dir / "logs"
    assert sorted(path.name for path in logs.iterdir()) == [
        "errors.jsonl", "general.jsonl", "performance.jsonl", "security.jsonl"]
    assert {path.stat().st_mode & 0o777 for path in logs.iterdir()} == {0o600}
    performance = [json.loads(line) for line in (logs / "performance.jsonl").read_text().splitlines()]
    assert [(entry["endpoint"], entry["status"]) for entry in performance] == [("/health", 200), ("/api/auth/me", 401)]
    security = [json.loads(line) for line in (logs / "security.jsonl").read_text().splitlines()]
    assert [entry["event"] for entry in security] == ["auth_failed"]
