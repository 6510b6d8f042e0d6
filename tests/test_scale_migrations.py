"""Versioned migrations: from an empty database and from the schema before migrations, on SQLite and Postgres."""

from __future__ import annotations

import sqlite3

from playalter.runner.server.storage import migrations
from playalter.runner.server.storage.database import Database
from playalter.runner.server.jobs.store import MIGRATIONS, JobStore

OLD_ROW = ("job1", None, "detect", "detect_faces", '{"bindings": {}}', "completed", 1.0)


def _columns(database: Database, table: str) -> set[str]:
    with database.transaction() as tx:
        return {column[0] for column in tx.execute(f"SELECT * FROM {table} LIMIT 1").description}


def test_an_empty_postgres_database_gets_every_step_once(postgres):
    database = Database(postgres.create_database("empty"))
    try:
        assert migrations.upgrade(database, "jobs", MIGRATIONS) == [1, 2, 3]
        assert migrations.upgrade(database, "jobs", MIGRATIONS) == []
        assert migrations.applied_version(database, "jobs") == 3
        assert {"cancel_requested", "webhook_url"} <= _columns(database, "jobs")
        assert {"worker"} <= _columns(database, "items")
    finally:
        database.close()


def test_a_postgres_database_at_the_previous_version_is_upgraded_with_its_rows(postgres, tmp_path):
    database = Database(postgres.create_database("previous"))
    try:
        assert migrations.upgrade(database, "jobs", MIGRATIONS[:1]) == [1]
        with database.transaction() as tx:
            tx.execute("INSERT INTO jobs (id, key_id, operation, workflow, plan, state, created_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)", OLD_ROW)
        store = JobStore(tmp_path, database)  # applies steps 2 and 3 at start
        job = store.get("job1")
        assert (job.state, job.operation, job.webhook_url) == ("completed", "detect", None)
        assert migrations.applied_version(database, "jobs") == 3
        assert store.cancel_requested("job1") is False
    finally:
        database.close()


def test_db_upgrade_creates_jobs_keys_audit_and_queue_tables(postgres, tmp_path):
    from playalter.pipelines.core.config import load_settings
    from playalter.runner.server.database_schema import upgrade_all

    url = postgres.create_database("command")
    settings = load_settings(config_path=None, environ={"PLAYALTER__DATABASE__URL": url})
    assert upgrade_all(settings, tmp_path) == {"jobs": [1, 2, 3], "webhooks": [1], "keys": [1], "audit": [1, 2],
                                               "queue": [1]}
    assert upgrade_all(settings, tmp_path) == {"jobs": [], "webhooks": [], "keys": [], "audit": [], "queue": []}


def test_a_sqlite_jobs_file_from_before_migrations_is_upgraded_in_place(tmp_path):
    old = sqlite3.connect(tmp_path / "jobs.sqlite3")
    for statement in MIGRATIONS[0]:
        old.execute(statement)
    old.execute("INSERT INTO jobs (id, key_id, operation, workflow, plan, state, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", OLD_ROW)
    old.commit()
    old.close()
    store = JobStore(tmp_path)
    try:
        assert store.get("job1").state == "completed"
        assert migrations.applied_version(store.db, "jobs") == 3
        assert migrations.applied_version(store.db, "webhooks") == 1
        assert store.cancel_requested("job1") is False
    finally:
        store.close()
