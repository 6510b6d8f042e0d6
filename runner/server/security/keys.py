"""API keys: creation, lookup, revocation, stored in SQLite or, with ``database.url``, in the shared Postgres.

A key reads ``pa_live_<key id: 12 hex>_<secret: 43 url-safe chars>``. The
prefix makes leaked keys easy to recognise (secret scanners, logs); the key id
is public (it appears in ``keys list``, the audit log and the security log) and
lets a lookup find the one row to compare against. The plaintext is returned
once by ``create`` and never stored: the table keeps ``sha256(plaintext)``.

Why a plain SHA-256 and not bcrypt/argon2: those slow hashes protect
low-entropy passwords against guessing. The secret part here carries 256
random bits, so no guessing attack exists and a fast hash costs nothing in
safety while keeping authentication in microseconds on every request. The
stored digest is compared with ``hmac.compare_digest`` (constant time).

The store is safe to share between threads and between processes (SQLite: one
connection behind a lock, WAL, writes in ``BEGIN IMMEDIATE``; Postgres: a pool,
first-key creation under an advisory lock). Revoking a key revokes the JWTs
issued for it on every replica at once: token checks read the key's row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ....pipelines.core.errors import InvalidParameterError
from ....pipelines.core.quoting import excerpt, quoted
from ..storage import migrations
from ..storage.database import Database

KEY_PREFIX = "pa_live_"
KEY_ID_LENGTH = 12
SECRET_BYTES = 32

TIERS = ("basic", "premium", "enterprise")
ADMIN_SCOPE = "admin"
SCOPES = ("face:analyze", "privacy:mask", "face:swap", "batch", "workflows:run", "jobs:read", ADMIN_SCOPE)
DEFAULT_SCOPES = tuple(scope for scope in SCOPES if scope != ADMIN_SCOPE)

# matched whole with fullmatch ("$" would also match before a final newline)
_KEY_PATTERN = re.compile(rf"{KEY_PREFIX}(?P<key_id>[0-9a-f]{{{KEY_ID_LENGTH}}})_(?P<secret>[A-Za-z0-9_-]{{32,}})")
_DURATION_PATTERN = re.compile(r"(?P<count>\d+)\s*(?P<unit>[smhdw])")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

_COLUMNS = "key_id, name, tier, scopes, created_at, expires_at, revoked_at"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    name       TEXT NOT NULL,
    tier       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL
)
"""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the identity attached to a request once its key or token checked out."""

    key_id: str
    name: str
    tier: str
    scopes: frozenset[str]
    expires_at: float | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN_SCOPE in self.scopes


@dataclass(frozen=True)
class KeyRecord:
    """One row of the key table, as ``keys list`` shows it (never the secret)."""

    key_id: str
    name: str
    tier: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def status(self, now: float | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (time.time() if now is None else now):
            return "expired"
        return "active"

    def principal(self) -> Principal:
        return Principal(self.key_id, self.name, self.tier, frozenset(self.scopes), self.expires_at)


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of checking a presented key: a principal, or why not (for the security log)."""

    principal: Principal | None
    reason: str  # ok | malformed | unknown_key | wrong_secret | revoked | expired
    key_id: str | None = None


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def looks_like_api_key(credential: str) -> bool:
    return credential.startswith(KEY_PREFIX)


def validate_scopes(scopes) -> tuple[str, ...]:
    """Known scopes, de-duplicated; ``scopes`` is a list or a comma/space separated string."""
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    if not isinstance(scopes, (list, tuple)):
        raise InvalidParameterError("scopes must be a list or a comma-separated string")
    scopes = tuple(dict.fromkeys(str(scope).strip() for scope in scopes if str(scope).strip()))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise InvalidParameterError(f"unknown scope(s) {', '.join(unknown)}; known scopes: {', '.join(SCOPES)}")
    if not scopes:
        raise InvalidParameterError(f"a key needs at least one scope; known scopes: {', '.join(SCOPES)}")
    return scopes


def parse_expiry(text: str, now: float | None = None) -> float:
    """``30d`` / ``12h`` / ``90m`` / ``2w`` from now, or an ISO date/datetime (UTC when no zone): epoch seconds."""
    now = time.time() if now is None else now
    text = text.strip()
    match = _DURATION_PATTERN.fullmatch(text.lower())
    if match:
        expires_at = now + int(match["count"]) * _DURATION_SECONDS[match["unit"]]
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidParameterError(
                f"cannot read expiry '{excerpt(text)}': use a duration like 30d, 12h, 90m, 2w or an ISO date "
                "like 2027-01-31"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        expires_at = moment.timestamp()
    if expires_at <= now:
        raise InvalidParameterError(f"expiry '{excerpt(text)}' is not in the future")
    return expires_at

MIGRATIONS = [[_SCHEMA]]


def keys_db_path(settings, data_dir: str | Path | None = None) -> Path:
    """``security.keys_db``, else ``keys.sqlite3`` in ``data_dir`` (default ``paths.data_dir``)."""
    return Path(settings.security.keys_db or Path(data_dir or settings.paths.data_dir) / "keys.sqlite3")


class KeyStore:
    """``KeyStore(path)`` (a SQLite file) or ``KeyStore(database)`` (the shared database, owned by the caller)."""

    def __init__(self, target: str | Path | Database):
        self._owns_db = not isinstance(target, Database)
        self.db = Database(target) if self._owns_db else target
        migrations.upgrade(self.db, "keys", MIGRATIONS)

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    def create(self, tier: str, name: str = "", scopes=DEFAULT_SCOPES,
               expires_at: float | None = None) -> tuple[str, str]:
        """Store a new key; returns ``(key_id, plaintext)``. The plaintext cannot be recovered later."""
        with self.db.transaction() as tx:
            return _insert(tx, tier, name, scopes, expires_at)

    def ensure_admin_key(self) -> str | None:
        """On a store that never held a key, create one admin key and return its plaintext; else None."""
        with self.db.transaction() as tx:
            tx.lock("playalter-keys")
            (count,) = tx.execute("SELECT COUNT(*) FROM api_keys").fetchone()
            if count:
                return None
            return _insert(tx, "enterprise", "admin", (ADMIN_SCOPE,), None)[1]

    def check(self, plaintext: str, now: float | None = None) -> KeyCheck:
        """Check a presented key; the reason is for logs (the secret itself is never logged)."""
        match = _KEY_PATTERN.fullmatch(plaintext)
        if not match:
            return KeyCheck(None, "malformed")
        key_id = match["key_id"]
        with self.db.transaction() as tx:
            row = tx.execute(f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            return KeyCheck(None, "unknown_key", key_id)
        if not hmac.compare_digest(row[-1], hash_key(plaintext)):
            return KeyCheck(None, "wrong_secret", key_id)
        return self._usable(_record(tuple(row)[:-1]), now)

    def authenticate(self, plaintext: str) -> Principal | None:
        return self.check(plaintext).principal

    def check_key_id(self, key_id: str, now: float | None = None) -> KeyCheck:
        """Whether the key behind a token is still usable (tokens die with their key)."""
        record = self.get(key_id)
        if record is None:
            return KeyCheck(None, "unknown_key", key_id)
        return self._usable(record, now)

    def get(self, key_id: str) -> KeyRecord | None:
        with self.db.transaction() as tx:
            row = tx.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return _record(row) if row else None

    def list(self) -> list[KeyRecord]:
        with self.db.transaction() as tx:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").fetchall()
        return [_record(row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key (and with it every token issued for it). False when no active key has that id."""
        with self.db.transaction() as tx:
            changed = tx.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (time.time(), key_id)
            ).rowcount
        return changed == 1

    def _usable(self, record: KeyRecord, now: float | None) -> KeyCheck:
        status = record.status(now)
        if status != "active":
            return KeyCheck(None, status, record.key_id)
        return KeyCheck(record.principal(), "ok", record.key_id)


def _insert(tx, tier: str, name: str, scopes, expires_at: float | None) -> tuple[str, str]:
    if tier not in TIERS:
        raise InvalidParameterError(f"unknown tier {quoted(tier)}; choose one of: {', '.join(TIERS)}")
    scopes = validate_scopes(scopes)
    if any(unicodedata.category(character) in ("Cc", "Cf") for character in name):
        raise InvalidParameterError("a key name must not hold control characters: it is printed in listings and logs")
    while True:
        key_id = secrets.token_hex(KEY_ID_LENGTH // 2)
        if not tx.execute("SELECT 1 FROM api_keys WHERE key_id = ?", (key_id,)).fetchone():
            break
    plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    tx.execute(
        "INSERT INTO api_keys (key_id, key_hash, name, tier, scopes, created_at, expires_at) VALUES (?,?,?,?,?,?,?)",
        (key_id, hash_key(plaintext), name, tier, " ".join(scopes), time.time(), expires_at),
    )
    return key_id, plaintext


def _record(row) -> KeyRecord:
    key_id, name, tier, scopes, created_at, expires_at, revoked_at = row
    return KeyRecord(key_id, name, tier, tuple(scopes.split()), created_at, expires_at, revoked_at)
