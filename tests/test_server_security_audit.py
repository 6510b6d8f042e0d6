"""The hash-chained audit log, its tamper detection, the audit middleware and the keys/audit CLI."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sqlite3

import pytest
from aiohttp import ClientTimeout
from aiohttp.test_utils import TestClient, TestServer

from playalter.runner.cli.main import main as playalter
from playalter.runner.server.storage.audit_log import AuditLog, sanitize_parameters

from security_app import bearer, build_app, serve


def filled_log(path, rows: int = 5) -> AuditLog:
    log = AuditLog(path)
    for index in range(rows):
        log.append(key_id="k1", operation=f"op{index}", inputs=[hashlib.sha256(bytes([index])).hexdigest()],
                   parameters={"strength": index / 10}, outcome="ok", status=200, duration_ms=1.5 + index)
    return log


def tamper(path, *statements: str) -> None:
    database = sqlite3.connect(path)
    with database:
        for statement in statements:
            database.execute(statement)
    database.close()


def test_an_untouched_chain_verifies(tmp_path):
    log = filled_log(tmp_path / "audit.sqlite3")
    result = log.verify()
    assert (result.ok, result.rows, result.first_bad_id) == (True, 5, None)
    assert log.verify(anchor=result.head_hash).ok
    log.close()


@pytest.mark.parametrize("statements, bad_row, words", [
    (["UPDATE audit_log SET parameters = '{\"strength\":0.9}' WHERE id = 3"], 3, "modified"),
    (["UPDATE audit_log SET outcome = 'ok ' WHERE id = 1"], 1, "modified"),
    (["UPDATE audit_log SET time = time + 1 WHERE id = 5"], 5, "modified"),
    (["DELETE FROM audit_log WHERE id = 2"], 3, "does not follow row 1"),
    (["DELETE FROM audit_log WHERE id = 1"], 2, "does not follow the start"),
    (["UPDATE audit_log SET id = 100 WHERE id = 2", "UPDATE audit_log SET id = 2 WHERE id = 3",
      "UPDATE audit_log SET id = 3 WHERE id = 100"], 2, "does not follow row 1"),  # rows 2 and 3 swapped
    (["DELETE FROM audit_log WHERE id = 5"], 4, "rows at the end were removed"),
])
def test_tampering_is_detected_and_names_the_row(tmp_path, statements, bad_row, words):
    path = tmp_path / "audit.sqlite3"
    filled_log(path).close()
    tamper(path, *statements)
    log = AuditLog(path)
    result = log.verify()
    log.close()
    assert not result.ok
    assert result.first_bad_id == bad_row
    assert words in result.reason


def test_an_anchor_catches_a_chain_rewritten_with_its_checkpoint(tmp_path):
    path = tmp_path / "audit.sqlite3"
    log = filled_log(path)
    anchor = log.verify().head_hash
    log.close()
    tamper(path, "DELETE FROM audit_log", "DELETE FROM audit_head")  # then rebuild a consistent fake history
    for name in ("audit.sqlite3.checkpoint", "audit.sqlite3.checkpoint-key"):
        (tmp_path / name).unlink()  # an attacker who can also replace the checkpoint and its key
    forged = filled_log(path, rows=3)
    assert forged.verify().ok
    result = forged.verify(anchor=anchor)
    forged.close()
    assert not result.ok and "anchor" in result.reason


def test_a_chain_rebuilt_after_a_wipe_is_caught_by_the_checkpoint(tmp_path):
    path = tmp_path / "audit.sqlite3"
    filled_log(path).close()
    tamper(path, "DELETE FROM audit_log", "DELETE FROM audit_head")
    rebuilt = filled_log(path, rows=3)  # the service appends on top of the wiped log: the wipe stays on record
    result = rebuilt.verify()
    rebuilt.close()
    assert not result.ok
    assert "changed outside the service" in result.reason and "held 0 rows" in result.reason


def test_parameters_never_keep_payloads_or_secrets():
    cleaned = sanitize_parameters({
        "image_base64": "A" * 1000, "api_key": "pa_live_x", "mask_type": "blur", "strength": 0.8,
        "nested": {"source_image": "...", "note": "n" * 300}, "raw": b"\x00" * 64, "levels": [1, 2],
    })
    assert cleaned == {
        "image_base64": "[omitted]", "api_key": "[omitted]", "mask_type": "blur", "strength": 0.8,
        "nested": {"source_image": "[omitted]", "note": "[300 characters omitted]"},
        "raw": "[64 bytes omitted]", "levels": [1, 2],
    }


def test_every_authenticated_request_is_audited_with_hashes_and_outcome(tmp_path):
    pictures = [b"first picture", b"second picture"]

    async def scenario():
        app, security = build_app(tmp_path, PLAYALTER__RATE_LIMIT__BASIC_PER_HOUR="4")
        key_id, key = security.keystore.create("basic", scopes=["batch", "face:analyze"])
        body = {"images_base64": [base64.b64encode(data).decode() for data in pictures], "operation": "mask",
                "parameters": {"strength": 0.5}}
        async with serve(app) as client:
            assert (await client.post("/api/batch", headers=bearer(key), json=body)).status == 200
            assert (await client.post("/api/swap", headers=bearer(key))).status == 403
            assert (await client.post("/api/invalid?mode=strict", headers=bearer(key))).status == 400
            assert (await client.get("/api/missing", headers=bearer(key))).status == 404  # free: nothing was done
            assert (await client.get("/api/ping", headers=bearer(key))).status == 429
            assert (await client.get("/api/ping")).status == 401  # anonymous: security log, not audit
            assert (await client.get("/health")).status == 200
        return key_id

    key_id = asyncio.run(scenario())
    log = AuditLog(tmp_path / "audit.sqlite3")
    assert log.verify().ok
    database = sqlite3.connect(tmp_path / "audit.sqlite3")
    rows = database.execute("SELECT key_id, operation, inputs, parameters, outcome, status, duration_ms"
                            " FROM audit_log ORDER BY id").fetchall()
    database.close()
    log.close()
    assert [(row[0], row[1], row[4], row[5]) for row in rows] == [
        (key_id, "batch.process", "ok", 200),
        (key_id, "POST /api/swap", "insufficient_scope", 403),
        (key_id, "POST /api/invalid", "invalid_parameter", 400),
        (key_id, "GET /api/missing", "http_404", 404),
        (key_id, "GET /api/ping", "rate_limit_exceeded", 429),
    ]
    assert json.loads(rows[0][2]) == [hashlib.sha256(data).hexdigest() for data in pictures]
    batch_parameters = json.loads(rows[0][3])
    assert batch_parameters == {"images_base64": "[omitted]", "operation": "mask", "parameters": {"strength": 0.5}}
    assert json.loads(rows[2][3]) == {"mode": "strict"}
    assert all(row[6] > 0 for row in rows)


def test_keys_cli_creates_lists_and_revokes(tmp_path, capsys):
    database = str(tmp_path / "keys.sqlite3")
    assert playalter(["keys", "create", "--db", database, "--tier", "premium", "--name", "ci",
                      "--expires", "30d", "--scopes", "batch,jobs:read", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["api_key"].startswith(f"pa_live_{created['key_id']}_")
    assert created["scopes"] == ["batch", "jobs:read"] and created["tier"] == "premium"

    assert playalter(["keys", "list", "--db", database]) == 0
    listing = capsys.readouterr().out
    assert created["key_id"] in listing and "premium" in listing and "active" in listing
    assert created["api_key"] not in listing

    assert playalter(["keys", "revoke", "--db", database, created["key_id"]]) == 0
    capsys.readouterr()
    assert playalter(["keys", "list", "--db", database, "--json"]) == 0
    assert [row["status"] for row in json.loads(capsys.readouterr().out)] == ["revoked"]
    assert playalter(["keys", "revoke", "--db", database, created["key_id"]]) == 1
    assert "already revoked" in capsys.readouterr().err

    assert playalter(["keys", "create", "--db", database, "--tier", "basic", "--expires", "yesterday"]) == 2
    assert "cannot read expiry" in capsys.readouterr().err


def test_audit_cli_verifies_and_reports_the_tampered_row(tmp_path, capsys):
    path = tmp_path / "audit.sqlite3"
    filled_log(path).close()
    assert playalter(["audit", "verify", "--db", str(path)]) == 0
    output = capsys.readouterr().out
    assert "OK: 5 rows" in output
    head = output.split("head: ")[1].strip()
    assert playalter(["audit", "verify", "--db", str(path), "--anchor", head]) == 0
    capsys.readouterr()

    tamper(path, "UPDATE audit_log SET key_id = 'someone-else' WHERE id = 4")
    assert playalter(["audit", "verify", "--db", str(path)]) == 1
    output = capsys.readouterr().out
    assert "row 4 was modified" in output and "first bad row: 4" in output
    assert playalter(["audit", "verify", "--db", str(tmp_path / "missing.sqlite3")]) == 2


def test_a_request_cancelled_by_a_disconnecting_client_is_still_audited(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path)
        key_id, key = security.keystore.create("basic")
        async with TestClient(TestServer(app, handler_cancellation=True)) as client:
            with pytest.raises(asyncio.TimeoutError):
                await client.post("/api/job", headers=bearer(key), timeout=ClientTimeout(total=0.5))
            for _ in range(100):  # the server notices the closed connection, cancels the handler, writes the row
                database = sqlite3.connect(tmp_path / "audit.sqlite3")
                found = database.execute("SELECT key_id, status, outcome FROM audit_log").fetchall()
                database.close()
                if found:
                    return key_id, found
                await asyncio.sleep(0.05)
        return key_id, []

    key_id, rows = asyncio.run(scenario())
    assert rows == [(key_id, 499, "client_closed_request")]
