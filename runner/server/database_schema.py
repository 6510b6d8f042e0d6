"""Every component's migrations for the configured database (``playalter db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from .jobs.store import MIGRATIONS as JOBS
from .security.keys import MIGRATIONS as KEYS
from .storage import migrations
from .storage.audit_log import MIGRATIONS as AUDIT
from .storage.database import Database
from .webhooks.deliveries import MIGRATIONS as WEBHOOKS


def upgrade_all(settings, data_dir: Path) -> dict[str, list[int]]:
    """Postgres: jobs, webhooks, keys, audit and the queue's tables; SQLite: the jobs file's jobs and webhooks (keys
    and audit files create their own tables). Returns the versions applied now, per component; raises MigrationError."""
    url = settings.database.url
    try:
        database = Database(url or Path(data_dir).resolve() / "jobs.sqlite3")
        try:
            applied = {"jobs": migrations.upgrade(database, "jobs", JOBS),
                       "webhooks": migrations.upgrade(database, "webhooks", WEBHOOKS)}
            if database.postgres:
                applied["keys"] = migrations.upgrade(database, "keys", KEYS)
                applied["audit"] = migrations.upgrade(database, "audit", AUDIT)
                from .jobs.queue.engine import install_schema  # procrastinate: the scale extra, Postgres only

                applied["queue"] = install_schema(database)
            return applied
        finally:
            database.close()
    except Exception as error:
        raise migrations.MigrationError(f"the database could not be upgraded ({type(error).__name__})") from None
