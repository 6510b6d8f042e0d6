"""The audit log's checkpoint: its row count, last id and head hash, signed with HMAC-SHA256 under a key kept
outside the log's tables, so that emptying the tables, dropping them, cutting rows off the end or putting an
older copy back is caught by ``playalter audit verify`` without the operator having noted anything.

``Signer`` signs and checks a ``Snapshot``; ``drift`` (before an append) and
``fault`` (``playalter audit verify``) compare a signed snapshot with the log.
Before each append the writer compares the log with the checkpoint; a
difference (someone changed the log behind the service) is recorded in the
checkpoint as ``broken`` and stays there, so later appends cannot paper over it.

Where the checkpoint is kept depends on where the log is (``db.audit_log``):

- ``FileCheckpoint``, for a log in a SQLite file of its own:
  ``<audit db>.checkpoint`` (JSON) signed with the key in
  ``<audit db>.checkpoint-key``, both 0600, rewritten by every append.
- ``RowCheckpoint``, for the log in the shared database: the row of
  ``audit_checkpoint``, rewritten by every append in the same transaction and
  under the same lock, signed under ``security.audit_checkpoint_secret``, a
  key every replica and worker is given and the database never holds, so
  someone who can only write to the database cannot produce a checkpoint that
  verifies. The audit migration creates the row unsigned ("not started"); the
  first process to open the log signs the log as it then is (an
  ``audit_checkpoint_started`` security event). A process whose secret is not
  the one the checkpoint was signed with (its ``key_id`` differs) refuses to
  start instead of recording the log as broken.

Both answer the same questions inside the log's transaction: ``read``,
``write``, ``start`` (when a log is opened), and the words for a checkpoint that
is not there (``missing_at_append``, ``missing_at_verify``).

Someone able to rewrite the log AND the checkpoint AND its key (or who can put
an unsigned row back while no process runs) can still forge a consistent
history: against that, keep ``--anchor`` head hashes elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from ....pipelines.core.config import ConfigError
from ..logs import security_event

SNAPSHOT_FIELDS = ("rows", "last_id", "head", "broken")
MIN_SECRET_LENGTH = 32


class CheckpointError(Exception):
    """The checkpoint exists but cannot be trusted (unreadable, forged, or its key is gone)."""


class OtherSecretError(CheckpointError):
    """The checkpoint row was signed under another secret than this process's (or its key id was edited)."""


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
                f"holds {walked.rows} ending at {walked.head[:16]}: the log was replaced or changed")
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


class FileCheckpoint:
    """The checkpoint of a SQLite audit file: ``<db>.checkpoint``, signed with the key in ``<db>.checkpoint-key``
    (created with the first checkpoint). The methods take the log's transaction like ``RowCheckpoint``'s; the
    file is outside it, and ``kept_if_rolled_back`` puts it back when the transaction fails."""

    def __init__(self, db_path: str | Path):
        self.path = Path(f"{db_path}.checkpoint")
        self.key_path = Path(f"{db_path}.checkpoint-key")

    def read(self, tx) -> Snapshot | None:
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

    def write(self, tx, snapshot: Snapshot) -> None:
        document = {**asdict(snapshot), "signature": Signer(self._key(), self.path.name).sign(snapshot)}
        write_private(self.path, (json.dumps(document, indent=1) + "\n").encode("utf-8"))

    def start(self, tx, current: Snapshot) -> None:
        """A first checkpoint for a new (or older, checkpoint-less) log; one that vanished is recorded as such."""
        if self.path.exists():
            return
        broken = ""
        if self.key_path.exists():
            broken = (f"the checkpoint was missing when the log was opened at {now_text()} "
                      f"(the database held {current.rows} rows)")
        self.write(tx, Snapshot(current.rows, current.last_id, current.head, broken))

    def missing_at_append(self, current: Snapshot) -> str:
        return f"the checkpoint was missing at {now_text()} (the database held {current.rows} rows)"

    @property
    def missing_at_verify(self) -> str:
        return (f"no checkpoint ({self.path.name}) beside the database: the log cannot be shown complete "
                "(the service writes one on every append)")

    @contextmanager
    def kept_if_rolled_back(self) -> Iterator[None]:
        """Put the checkpoint file back as it was when the block fails (its transaction is rolled back)."""
        try:
            previous = self.path.read_bytes()
        except FileNotFoundError:
            previous = None
        try:
            yield
        except BaseException:
            if previous is None:
                self.path.unlink(missing_ok=True)
            else:
                write_private(self.path, previous)
            raise

    def _key(self) -> bytes:
        try:
            return self.key_path.read_bytes()
        except FileNotFoundError:
            write_private(self.key_path, secrets.token_bytes(32))
            return self.key_path.read_bytes()


class RowCheckpoint:
    """``RowCheckpoint(secret)``: the checkpoint row of the shared database, signed under
    ``security.audit_checkpoint_secret``; ConfigError when the secret is unset or short."""

    def __init__(self, secret: str):
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"security.audit_checkpoint_secret must be set (at least {MIN_SECRET_LENGTH} characters, the same "
                "on every API replica and worker) when database.url is a Postgres database: it signs the audit "
                "log's checkpoint outside the database. Generate one with: "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
        self.signer = Signer(secret.encode("utf-8"), "row (audit_checkpoint)")

    def read(self, tx) -> Snapshot | None:
        """The signed snapshot; None while it is not started; CheckpointError when it is missing or forged."""
        row = tx.execute("SELECT row_count, last_id, head, broken, key_id, signature FROM audit_checkpoint").fetchone()
        if row is None:
            raise CheckpointError("the checkpoint row (audit_checkpoint) is missing: it was deleted")
        *values, key_id, signature = tuple(row)
        if signature == "":
            return None
        if key_id != self.signer.key_id:
            raise OtherSecretError(f"the checkpoint row (audit_checkpoint) was signed with another "
                                   f"security.audit_checkpoint_secret (key id {key_id}, this process has "
                                   f"{self.signer.key_id}), or its key id was edited")
        return self.signer.verified(dict(zip(SNAPSHOT_FIELDS, values)), signature)

    def write(self, tx, snapshot: Snapshot) -> None:
        tx.execute("INSERT INTO audit_checkpoint (singleton, row_count, last_id, head, broken, key_id, signature)"
                   " VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT (singleton) DO UPDATE SET"
                   " row_count = excluded.row_count, last_id = excluded.last_id, head = excluded.head,"
                   " broken = excluded.broken, key_id = excluded.key_id, signature = excluded.signature",
                   (snapshot.rows, snapshot.last_id, snapshot.head, snapshot.broken, self.signer.key_id,
                    self.signer.sign(snapshot)))

    def start(self, tx, current: Snapshot) -> None:
        """Sign the log as it is when the row is not started yet; ConfigError when it was signed with another
        secret. A missing or forged row is left for the next append to record as broken."""
        try:
            saved = self.read(tx)
        except OtherSecretError as error:
            raise ConfigError(f"{error}: give every replica and worker the same "
                              "security.audit_checkpoint_secret") from None
        except CheckpointError:
            return
        if saved is None:
            self.write(tx, Snapshot(current.rows, current.last_id, current.head))
            security_event("audit_checkpoint_started", rows=current.rows, last_id=current.last_id)

    def missing_at_append(self, current: Snapshot) -> str:
        # this process found the row signed, or signed it, when it opened the log
        return f"the checkpoint row (audit_checkpoint) was reset to unsigned (noticed at {now_text()})"

    @property
    def missing_at_verify(self) -> str:
        return ("the checkpoint (audit_checkpoint) is not started: no API replica or worker has opened the log "
                "since it was created, or its row was reset in the database")

    def kept_if_rolled_back(self):
        """The row is rolled back with its transaction."""
        return nullcontext()


def _sign(key: bytes, fields: dict) -> str:
    return hmac.new(key, json.dumps(fields, sort_keys=True).encode("utf-8"), hashlib.sha256).hexdigest()
