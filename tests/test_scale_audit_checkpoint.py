"""The Postgres audit log's signed checkpoint: concurrent writers keep it in step with the chain, and
`playalter audit verify` catches what the chain alone cannot (emptied tables, a cut tail with a matching head
record, an edited or deleted checkpoint row), with the key outside the database."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest


from playalter.pipelines.core.config import ConfigError
from playalter.runner.server.storage.audit_log import AuditLog
from playalter.runner.server.storage.database import Database

pytestmark = pytest.mark.timeout(300)
SECRET = "k" * 40

_APPENDER = """
import sys, time
from pathlib import Path
from playalter.runner.server.storage.audit_log import AuditLog
from playalter.runner.server.storage.database import Database
url, secret, name, gate = sys.argv[1:]
database = Database(url)
log = AuditLog(database, secret)
Path(f"{gate}-{name}").touch()
while not Path(gate).exists():
    time.sleep(0.01)
for number in range(60):
    log.append(key_id=name, operation="test.append", parameters={"n": number}, outcome="ok")
database.close()
"""


@pytest.fixture
def url(postgres, request):
    return postgres.create_database(request.node.name.replace("test_", "")[:60])


def _verify(url: str, secret: str | None = SECRET) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLAYALTER__")}
    env["PLAYALTER__DATABASE__URL"] = url
    if secret is not None:
        env["PLAYALTER__SECURITY__AUDIT_CHECKPOINT_SECRET"] = secret
    return subprocess.run([sys.executable, "-m", "playalter.runner.cli.main", "audit", "verify"], env=env,
                          capture_output=True, text=True, timeout=120)


def _fill(url: str, rows: int, secret: str = SECRET) -> None:
    database = Database(url)
    try:
        log = AuditLog(database, secret)
        for number in range(rows):
            log.append(key_id="k1", operation="test.fill", parameters={"n": number}, outcome="ok")
    finally:
        database.close()


def _sql(url: str, *statements: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as connection:
        result = []
        for statement in statements:
            cursor = connection.execute(statement)
            result = cursor.fetchall() if cursor.description else []
        return result


def test_two_processes_appending_at_once_keep_the_checkpoint_at_the_head(url, tmp_path):
    gate = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, "-c", _APPENDER, url, SECRET, name, str(gate)])
               for name in ("writer-a", "writer-b")]
    deadline = time.monotonic() + 120
    while not all(Path(f"{gate}-{name}").exists() for name in ("writer-a", "writer-b")):
        assert time.monotonic() < deadline and all(writer.poll() is None for writer in writers)
        time.sleep(0.05)
    gate.touch()  # both have opened the log: now they append at the same time
    assert [writer.wait(120) for writer in writers] == [0, 0]
    head = _sql(url, "SELECT last_id, last_hash, row_count FROM audit_head")[0]
    checkpoint = _sql(url, "SELECT last_id, head, row_count, broken FROM audit_checkpoint")
    assert checkpoint == [(head[0], head[1], head[2], "")] and head[2] == 120
    owners = _sql(url, "SELECT key_id, COUNT(*) FROM audit_log GROUP BY key_id ORDER BY key_id")
    assert owners == [("writer-a", 60), ("writer-b", 60)]
    verified = _verify(url)
    assert verified.returncode == 0, verified.stdout
    assert "120 rows, chain intact" in verified.stdout and head[1] in verified.stdout


def test_emptied_audit_tables_fail_verification(url):
    _fill(url, 5)
    assert _verify(url).returncode == 0
    _sql(url, "TRUNCATE audit_log, audit_head")
    wiped = _verify(url)
    assert wiped.returncode == 1
    assert "the checkpoint records 5 rows (last row 5) but the database holds 0" in wiped.stdout


def test_deleted_last_rows_with_a_matching_head_record_fail_verification(url):
    _fill(url, 8)
    _sql(url, "DELETE FROM audit_log WHERE id > 5",
         "UPDATE audit_head SET last_id = 5, row_count = 5, last_hash = (SELECT hash FROM audit_log WHERE id = 5)")
    cut = _verify(url)
    assert cut.returncode == 1
    assert "the checkpoint records 8 rows (last row 8) but the database holds 5" in cut.stdout


def test_a_checkpoint_row_rewritten_without_the_key_fails_verification(url):
    _fill(url, 8)
    _sql(url, "DELETE FROM audit_log WHERE id > 5",
         "UPDATE audit_head SET last_id = 5, row_count = 5, last_hash = (SELECT hash FROM audit_log WHERE id = 5)",
         "UPDATE audit_checkpoint SET last_id = 5, row_count = 5, head = (SELECT hash FROM audit_log WHERE id = 5)")
    forged = _verify(url)
    assert forged.returncode == 1
    assert "the checkpoint row (audit_checkpoint) is not signed by its key: it was edited" in forged.stdout


def test_a_deleted_checkpoint_row_fails_verification_and_stays_recorded(url):
    _fill(url, 3)
    _sql(url, "DELETE FROM audit_checkpoint")
    missing = _verify(url)
    assert missing.returncode == 1
    assert "the checkpoint row (audit_checkpoint) is missing: it was deleted" in missing.stdout
    _fill(url, 1)  # the next append notices and records it in the new, signed checkpoint
    assert _sql(url, "SELECT row_count FROM audit_checkpoint") == [(4,)]
    recorded = _verify(url)
    assert recorded.returncode == 1
    assert "the log was changed outside the service: the checkpoint row (audit_checkpoint) is missing" \
        in recorded.stdout


def test_a_wipe_noticed_by_a_writer_is_not_papered_over_by_later_appends(url, caplog):
    _fill(url, 4)
    _sql(url, "TRUNCATE audit_log, audit_head")
    with caplog.at_level(logging.WARNING, logger="playalter.security"):
        _fill(url, 2)
    assert _sql(url, "SELECT COUNT(*) FROM audit_log") == [(2,)]
    tampered = [record for record in caplog.records if record.getMessage() == "audit_log_tampered"]
    assert len(tampered) == 1 and tampered[0].levelno == logging.ERROR  # once, when it was noticed
    assert "where the checkpoint recorded 4" in tampered[0].reason
    result = _verify(url)
    assert result.returncode == 1
    assert "the database held 0 rows" in result.stdout and "where the checkpoint recorded 4" in result.stdout


def test_a_checkpoint_reset_to_unsigned_under_a_running_writer_is_recorded(url):
    database = Database(url)
    try:
        log = AuditLog(database, SECRET)
        log.append(key_id="k1", operation="test.one", outcome="ok")
        _sql(url, "TRUNCATE audit_log, audit_head", "UPDATE audit_checkpoint SET signature = '', key_id = ''")
        log.append(key_id="k1", operation="test.two", outcome="ok")
    finally:
        database.close()
    result = _verify(url)
    assert result.returncode == 1
    assert "the log was changed outside the service: the checkpoint row (audit_checkpoint) was reset to unsigned" \
        in result.stdout


def test_a_log_from_before_the_checkpoint_is_adopted_by_the_first_process(url):
    _fill(url, 2)  # then taken back to audit migration 1, as the previous version left it
    _sql(url, "DROP TABLE audit_checkpoint", "DELETE FROM schema_migrations WHERE component = 'audit' AND version = 2")
    not_started = _verify(url)
    assert not_started.returncode == 1 and "the audit tables cannot be read" in not_started.stdout
    _fill(url, 0)
    assert _sql(url, "SELECT row_count, last_id FROM audit_checkpoint") == [(2, 2)]
    assert _verify(url).returncode == 0


def test_the_key_is_required_and_must_be_the_same_everywhere(url):
    with pytest.raises(ConfigError, match="security.audit_checkpoint_secret must be set"):
        _fill(url, 1, secret="")
    _fill(url, 2)
    with pytest.raises(ConfigError, match="signed with another security.audit_checkpoint_secret"):
        _fill(url, 1, secret="x" * 40)
    assert _sql(url, "SELECT row_count FROM audit_checkpoint") == [(2,)]
    no_key = _verify(url, secret=None)
    assert no_key.returncode == 1 and "security.audit_checkpoint_secret must be set" in no_key.stdout
    other_key = _verify(url, secret="x" * 40)
    assert other_key.returncode == 1 and "signed with another security.audit_checkpoint_secret" in other_key.stdout
    assert "x" * 40 not in other_key.stdout + other_key.stderr


def test_serve_and_worker_without_the_key_refuse_to_start(url, tmp_path):
    from ports import free_port

    env = {name: value for name, value in os.environ.items() if not name.startswith("PLAYALTER__")}
    env.update(PLAYALTER__DATABASE__URL=url, PLAYALTER__PATHS__DATA_DIR=str(tmp_path))
    for command in (["worker"], ["serve", "--workers", "0", "--port", str(free_port())]):
        refused = subprocess.run([sys.executable, "-m", "playalter.runner.cli.main", *command], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2, (command, refused.stderr[-2000:])
        assert "error: security.audit_checkpoint_secret must be set" in refused.stderr
        assert "Traceback" not in refused.stderr
