"""One small SQL interface over two backends: a SQLite file (default) or Postgres (``database.url``).

Queries are written once, with ``?`` placeholders and SQL both engines
understand (``IS NOT DISTINCT FROM``, ``ON CONFLICT``); ``Database`` turns
``?`` into ``%s`` for psycopg and ``REAL`` into ``DOUBLE PRECISION`` in
Postgres DDL (Postgres' ``REAL`` is 4 bytes: it would round epoch seconds).
SQLite: one connection guarded by a lock (the process' only writer, WAL
mode). Postgres: a psycopg 3 connection pool; every ``transaction()`` is one
database transaction on one pooled connection.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..faults import DATABASE_UNAVAILABLE, OUTAGES, fault_of
from ..logs import quiet_outage_noise

_PLACEHOLDER = re.compile(r"\?")
_REAL = re.compile(r"\bREAL\b")


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


class Row(tuple):
    """A result row readable by position or by column name, like ``sqlite3.Row``."""

    names: tuple[str, ...] = ()

    def __new__(cls, names: tuple[str, ...], values: Sequence[Any]):
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def _row_factory(cursor):
    names = tuple(column.name for column in cursor.description or ())
    return lambda values: Row(names, values)


class Transaction:
    """``execute`` inside one transaction; the returned cursor has fetchone/fetchall/rowcount."""

    def __init__(self, connection, postgres: bool):
        self._connection = connection
        self.postgres = postgres

    def execute(self, sql: str, params: Sequence[Any] | dict = ()):
        if self.postgres:
            return self._connection.execute(_PLACEHOLDER.sub("%s", sql), params or None)
        return self._connection.execute(sql, params)

    def executemany(self, sql: str, rows: list) -> None:
        if self.postgres:
            with self._connection.cursor() as cursor:
                cursor.executemany(_PLACEHOLDER.sub("%s", sql), rows)
        else:
            self._connection.executemany(sql, rows)

    def lock(self, name: str) -> None:
        """Serialise this transaction with others taking the same lock (Postgres advisory lock; SQLite
        transactions are already serial: they start with BEGIN IMMEDIATE)."""
        if self.postgres:
            self._connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))

    def ddl(self, sql: str) -> None:
        self._connection.execute(_REAL.sub("DOUBLE PRECISION", sql) if self.postgres else sql)


class Database:
    """``Database(url_or_path)``: a ``postgresql://`` URL, or the path of a SQLite file (created 0600).

    ``read_only`` (SQLite): open an existing file as it is, creating and changing nothing, to read it with
    ``snapshot`` (its ``transaction`` fails).
    """

    def __init__(self, target: str | os.PathLike, *, read_only: bool = False):
        self.url = str(target)
        self.postgres = is_postgres(self.url)
        self.outage_name = "database postgres" if self.postgres else f"database {Path(target).name}"  # no address
        self._lock = threading.Lock()
        if self.postgres:
            import psycopg
            from psycopg_pool import ConnectionPool

            self.integrity_errors: tuple[type[Exception], ...] = (psycopg.IntegrityError,)
            self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
            quiet_outage_noise()
            self._pool = ConnectionPool(self.url, min_size=1, max_size=8, open=True, timeout=10.0,
                                        kwargs={"row_factory": _row_factory}, check=ConnectionPool.check_connection)
        else:
            path = Path(target)
            self.integrity_errors = (sqlite3.IntegrityError,)
            self.errors = (sqlite3.Error,)
            if read_only:
                self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                           isolation_level=None)
            else:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm the same mode
                self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction, committed when the block ends. Failing to reach the database begins an outage of it
        in ``faults.OUTAGES`` (logged once), a commit ends it."""
        try:
            with self._transaction() as tx:
                yield tx
        except Exception as error:
            if fault_of(error) == DATABASE_UNAVAILABLE:
                OUTAGES.failed(DATABASE_UNAVAILABLE, self.outage_name, error)
            raise
        OUTAGES.recovered(self.outage_name)

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        if self.postgres:
            with self._pool.connection() as connection:  # commits on success, rolls back on an exception
                yield Transaction(connection, True)
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._db, False)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a full disk or an I/O error may have ended it already
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def snapshot(self) -> Iterator[Transaction]:
        """A read-only transaction that sees one state of the database throughout, to check tables against each
        other: Postgres REPEATABLE READ; SQLite a deferred BEGIN, which takes no write lock."""
        if self.postgres:
            with self._pool.connection() as connection:
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield Transaction(connection, True)
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield Transaction(self._db, False)
            finally:
                if self._db.in_transaction:  # some errors (a damaged file) have ended it already
                    self._db.execute("ROLLBACK")  # it wrote nothing: ending it either way is the same

    def close(self) -> None:
        if self.postgres:
            self._pool.close()
        else:
            with self._lock:
                self._db.close()
