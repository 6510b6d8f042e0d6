"""Storage shared by the service's processes: one SQL interface over SQLite (default) or Postgres, and migrations."""
