"""Versioned schema migrations: numbered SQL steps per component, recorded in ``schema_migrations``.

A small equivalent of alembic/yoyo, chosen because the service writes plain
SQL through ``database.Database`` (no ORM models for alembic to diff) and
has a handful of additive steps: a step is a list of statements, applied in
one transaction with its row in ``schema_migrations (component, version)``.
On Postgres the transaction first takes an advisory lock per component, so
replicas starting together apply each step once. A database created before
migrations existed (tables, no ``schema_migrations``) is upgraded too: step
1 of every component is ``CREATE ... IF NOT EXISTS``.
"""

from __future__ import annotations

import time

from .database import Database

_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL,"
          " applied_at REAL NOT NULL, PRIMARY KEY (component, version))")


def applied_version(database: Database, component: str) -> int:
    with database.transaction() as tx:
        tx.lock("playalter-migrations")
        tx.ddl(_TABLE)
        row = tx.execute("SELECT MAX(version) FROM schema_migrations WHERE component = ?", (component,)).fetchone()
    return row[0] or 0


def upgrade(database: Database, component: str, steps: list[list[str]]) -> list[int]:
    """Apply the steps (version = position + 1) not applied yet; return the versions applied now."""
    applied = []
    with database.transaction() as tx:
        tx.lock("playalter-migrations")  # CREATE TABLE IF NOT EXISTS is not safe against itself in Postgres
        tx.ddl(_TABLE)
    for version, statements in enumerate(steps, start=1):
        with database.transaction() as tx:
            tx.lock(f"playalter-migrations-{component}")
            done = tx.execute("SELECT 1 FROM schema_migrations WHERE component = ? AND version = ?",
                              (component, version)).fetchone()
            if done:
                continue
            for statement in statements:
                tx.ddl(statement)
            tx.execute("INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)",
                       (component, version, time.time()))
            applied.append(version)
    return applied


class MigrationError(Exception):
    """The database could not be reached or a step failed (the message names no address or secret)."""
