"""Issue 12 item 2: a wiped, dropped, truncated or replaced audit log fails ``playalter audit verify``,
which never changes the file it checks; audit files are readable by the service's user only."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import stat

import pytest

from playalter.runner.cli.main import main as playalter
from playalter.runner.server.storage.audit_log import AuditLog, verify_database

from test_server_security_audit import tamper


def filled_log(path, rows: int = 5) -> AuditLog:
    log = AuditLog(path)
    for index in range(rows):
        log.append(key_id="k1", operation=f"op{index}", outcome="ok", status=200)
    return log


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def log_path(tmp_path):
    path = tmp_path / "audit.sqlite3"
    filled_log(path).close()
    return path


def verify_cli(path, capsys) -> tuple[int, str]:
    code = playalter(["audit", "verify", "--db", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_an_intact_log_verifies(log_path, capsys):
    code, output = verify_cli(log_path, capsys)
    assert code == 0 and "OK: 5 rows" in output


@pytest.mark.parametrize("statements, words", [
    (["DELETE FROM audit_log", "DELETE FROM audit_head"], "rows were removed or the log was wiped"),
    (["DELETE FROM audit_log WHERE id > 2", "UPDATE audit_head SET last_id = 2, row_count = 2,"
      " last_hash = (SELECT hash FROM audit_log WHERE id = 2)"], "rows were removed"),
    (["DROP TABLE audit_log", "DROP TABLE audit_head"], "tables are missing"),
])
def test_wiping_or_truncating_fails_and_verify_changes_nothing(log_path, capsys, statements, words):
    tamper(log_path, *statements)
    before = digest(log_path)
    code, output = verify_cli(log_path, capsys)
    assert code == 1 and "FAILED" in output and words in output
    assert digest(log_path) == before
    tables = sqlite3.connect(log_path).execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    if "DROP TABLE audit_log" in statements:
        assert tables == []  # verify did not recreate them


def test_an_older_copy_put_back_fails(tmp_path, capsys):
    path = tmp_path / "audit.sqlite3"
    log = filled_log(path, rows=3)
    log.close()
    shutil.copy(path, tmp_path / "old.sqlite3")
    log = AuditLog(path)
    log.append(key_id="k1", operation="later", outcome="ok")
    log.close()
    shutil.copy(tmp_path / "old.sqlite3", path)
    code, output = verify_cli(path, capsys)
    assert code == 1 and "records 4 rows" in output


def test_another_log_of_the_same_length_put_in_its_place_fails(log_path, tmp_path, capsys):
    other = tmp_path / "other" / "audit.sqlite3"
    log = AuditLog(other)
    for index in range(5):
        log.append(key_id="someone-else", operation=f"op{index}", outcome="ok")
    log.close()
    shutil.copy(other, log_path)
    code, output = verify_cli(log_path, capsys)
    assert code == 1 and "records 5 rows ending at hash" in output and "the log was replaced or changed" in output

def test_an_edited_or_missing_checkpoint_fails(log_path, capsys):
    checkpoint = log_path.with_name("audit.sqlite3.checkpoint")
    document = json.loads(checkpoint.read_text())
    checkpoint.write_text(json.dumps({**document, "rows": 2}))
    code, output = verify_cli(log_path, capsys)
    assert code == 1 and "not signed by its key" in output
    checkpoint.unlink()
    code, output = verify_cli(log_path, capsys)
    assert code == 1 and "no checkpoint" in output


def test_a_checkpoint_deleted_while_the_key_stays_is_remembered(log_path):
    log_path.with_name("audit.sqlite3.checkpoint").unlink()
    log = filled_log(log_path, rows=1)
    result = log.verify()
    log.close()
    assert not result.ok and "checkpoint was missing" in result.reason


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_database_file_is_a_message_not_a_traceback(log_path, capsys, damage):
    data = log_path.read_bytes()
    log_path.write_bytes({"garbage": b"not a database at all " * 300, "truncated": data[:len(data) // 3],
                          "empty": b""}[damage])
    before = digest(log_path)
    code, output = verify_cli(log_path, capsys)
    assert code == 1 and "FAILED" in output and "Traceback" not in output
    assert digest(log_path) == before


def test_verify_never_creates_anything(tmp_path):
    path = tmp_path / "audit.sqlite3"
    sqlite3.connect(path).close()  # an empty file: no tables
    result = verify_database(path)
    assert not result.ok and "tables are missing" in result.reason
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["audit.sqlite3"]


def test_audit_files_are_private(tmp_path):
    path = tmp_path / "data" / "audit.sqlite3"
    filled_log(path).close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for name in ("audit.sqlite3", "audit.sqlite3.checkpoint", "audit.sqlite3.checkpoint-key"):
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
