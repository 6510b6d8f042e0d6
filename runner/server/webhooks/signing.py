"""Webhook signatures per the Standard Webhooks specification, and each API key's signing secret.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (epoch seconds) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``
under the secret's key bytes, one such entry per valid secret, separated by
spaces. A secret reads ``whsec_<base64 of 32 random bytes>``.

Each API key has one secret (``webhook_secrets``, in the jobs database, so
that whichever replica or worker delivers can sign), made on first use. The
holder reads it with ``GET /api/webhooks/secret`` and replaces it with
``POST /api/webhooks/secret/rotate``; the replaced secret stays valid for
``PREVIOUS_SECRET_SECONDS`` (24 h) and deliveries meanwhile carry both
signatures, so a receiver can switch over without losing one. A second
rotation within those 24 h ends the oldest secret at once. The secret is
stored as it is (signing needs it), in the database created readable by the
service's user only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from ..storage.database import Database

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
PREVIOUS_SECRET_SECONDS = 24 * 3600.0


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{message_id}.{timestamp}.{body}`` under ``secret`` (``whsec_...``)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets_in_use)


@dataclass(frozen=True)
class SigningSecret:
    """A key's secret, when it was made, and until when the one it replaced still signs (None: no such one)."""

    secret: str
    created_at: float
    previous_expires_at: float | None


class SecretStore:
    """The API keys' webhook secrets in ``database`` (its ``webhooks`` tables, see ``deliveries.MIGRATIONS``)."""

    def __init__(self, database: Database):
        self.db = database

    def current(self, key_id: str, now: float | None = None) -> SigningSecret:
        """The key's secret, made now if it has none."""
        now = time.time() if now is None else now
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO webhook_secrets (key_id, secret, created_at) VALUES (?, ?, ?)"
                       " ON CONFLICT (key_id) DO NOTHING", (key_id, new_secret(), now))
            row = tx.execute("SELECT secret, created_at, previous_expires_at FROM webhook_secrets WHERE key_id = ?",
                             (key_id,)).fetchone()
        return _signing_secret(row, now)

    def rotate(self, key_id: str, now: float | None = None) -> SigningSecret:
        """Replace the key's secret; the replaced one keeps signing for ``PREVIOUS_SECRET_SECONDS``."""
        now = time.time() if now is None else now
        self.current(key_id, now)
        with self.db.transaction() as tx:
            tx.execute("UPDATE webhook_secrets SET previous_secret = secret, previous_expires_at = ?, secret = ?,"
                       " created_at = ? WHERE key_id = ?", (now + PREVIOUS_SECRET_SECONDS, new_secret(), now, key_id))
            row = tx.execute("SELECT secret, created_at, previous_expires_at FROM webhook_secrets WHERE key_id = ?",
                             (key_id,)).fetchone()
        return _signing_secret(row, now)

    def signing(self, key_id: str, now: float | None = None) -> list[str]:
        """The secrets a delivery is signed with now: the current one, then the replaced one while it is valid."""
        now = time.time() if now is None else now
        current = self.current(key_id, now)
        with self.db.transaction() as tx:
            row = tx.execute("SELECT previous_secret, previous_expires_at FROM webhook_secrets WHERE key_id = ?",
                             (key_id,)).fetchone()
        if row["previous_secret"] and row["previous_expires_at"] > now:
            return [current.secret, row["previous_secret"]]
        return [current.secret]


def _signing_secret(row, now: float) -> SigningSecret:
    previous = row["previous_expires_at"]
    return SigningSecret(row["secret"], row["created_at"], previous if previous is not None and previous > now else None)
