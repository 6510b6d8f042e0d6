"""The audit log's checkpoint: its row count and head hash, signed with HMAC-SHA256 under a key kept
outside the log's tables.

``Signer`` signs and checks a ``Snapshot``; ``drift`` (before an append) and
``fault`` (``playalter audit verify``) compare a signed snapshot with the log.
Both stores use them: the SQLite log keeps its checkpoint in a file (``Checkpoint``,
below), the Postgres log in a row of its own (``db.audit_log``).

SQLite: every append rewrites ``<audit db>.checkpoint`` (JSON, HMAC-SHA256 with the key in
``<audit db>.checkpoint-key``; both 0600). ``playalter audit verify`` compares it with
the database, so emptying the tables, dropping them or cutting rows off the end is
caught without the operator having noted anything. Before each append the writer
compares the database with the checkpoint; a difference (someone changed the
database behind the service) is recorded in the checkpoint as ``broken`` and stays
there, so later appends cannot paper over it.

Someone able to rewrite the database AND the checkpoint AND its key can still forge
a consistent history: against that, keep ``--anchor`` head hashes elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SNAPSHOT_FIELDS = ("rows", "last_id", "head", "broken")


class CheckpointError(Exception):
    """The checkpoint file exists but cannot be trusted (unreadable, forged, or its key is gone)."""


@dataclass(frozen=True)
class Snapshot:
    rows: int
    last_id: int | None
    head: str
    broken: str = ""

    def same_log(self, other: "Snapshot") -> bool:
        return (self.rows, self.last_id, self.head) == (other.rows, other.last_id, other.head)


class Signer:
    """HMAC-SHA256 over a snapshot's fields; ``where`` names the checkpoint in messages."""

    def __init__(self, key: bytes, where: str):
        self._key = key
        self.where = where

    @property
    def key_id(self) -> str:
        """A public fingerprint of the key: tells a process configured with another key from a forged signature."""
        return hmac.new(self._key, b"playalter audit checkpoint key id", hashlib.sha256).hexdigest()[:16]

    def sign(self, snapshot: Snapshot) -> str:
        return _sign(self._key, asdict(snapshot))

    def verified(self, fields: dict, signature) -> Snapshot:
        """The snapshot of ``fields`` if ``signature`` is theirs under this key; else CheckpointError."""
        if not isinstance(signature, str) or not hmac.compare_digest(signature, _sign(self._key, fields)):
            raise CheckpointError(f"the checkpoint {self.where} is not signed by its key: it was edited")
        return Snapshot(**fields)


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def drift(saved: Snapshot, current: Snapshot) -> str:
    """What ``saved`` has on record as broken, else how the log now differs from it ("" when it does not)."""
    if saved.broken or saved.same_log(current):
        return saved.broken
    return (f"at {now_text()} the database held {current.rows} rows (head {current.head[:16]}) where the "
            f"checkpoint recorded {saved.rows} (head {saved.head[:16]}): the database was changed outside "
            "the service (rows removed, tables emptied, or an older copy put back)")


def fault(saved: Snapshot, walked: Snapshot) -> str:
    """Why the walked chain is not the log ``saved`` vouches for ("" when it is)."""
    if saved.broken:
        return f"the log was changed outside the service: {saved.broken}"
    if saved.rows > walked.rows:
        return (f"the checkpoint records {saved.rows} rows (last row {saved.last_id}) but the database holds "
                f"{walked.rows}: rows were removed or the log was wiped")
    if not saved.same_log(walked):
        return (f"the checkpoint records {saved.rows} rows ending at hash {saved.head[:16]} but the database "
                f"holds {walked.rows} ending at {walked.last_hash[:16]}: the log was replaced or changed")
    return ""


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a file only its owner can read (0600)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class Checkpoint:
    def __init__(self, db_path: str | Path):
        self.path = Path(f"{db_path}.checkpoint")
        self.key_path = Path(f"{db_path}.checkpoint-key")

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> Snapshot | None:
        """The signed snapshot; None when there is no checkpoint file."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            fields = {name: document[name] for name in SNAPSHOT_FIELDS}
            signature = document["signature"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            raise CheckpointError(f"the checkpoint {self.path.name} is unreadable") from None
        try:
            key = self.key_path.read_bytes()
        except OSError:
            raise CheckpointError(f"the checkpoint key {self.key_path.name} is missing") from None
        return Signer(key, self.path.name).verified(fields, signature)

    def write(self, snapshot: Snapshot) -> None:
        document = {**asdict(snapshot), "signature": Signer(self._key(), self.path.name).sign(snapshot)}
        write_private(self.path, (json.dumps(document, indent=1) + "\n").encode("utf-8"))

    def raw(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def restore(self, raw: bytes | None) -> None:
        if raw is None:
            self.path.unlink(missing_ok=True)
        else:
            write_private(self.path, raw)

    def _key(self) -> bytes:
        try:
            return self.key_path.read_bytes()
        except FileNotFoundError:
            write_private(self.key_path, secrets.token_bytes(32))
            return self.key_path.read_bytes()


def _sign(key: bytes, fields: dict) -> str:
    return hmac.new(key, json.dumps(fields, sort_keys=True).encode("utf-8"), hashlib.sha256).hexdigest()
