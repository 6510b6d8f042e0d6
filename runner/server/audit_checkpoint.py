"""The audit log's checkpoint: its row count and head hash, kept in a signed file beside the database.

Every append rewrites ``<audit db>.checkpoint`` (JSON, HMAC-SHA256 with the key in
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
from dataclasses import asdict, dataclass
from pathlib import Path


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
            fields = {name: document[name] for name in ("rows", "last_id", "head", "broken")}
            signature = document["signature"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            raise CheckpointError(f"the checkpoint {self.path.name} is unreadable") from None
        try:
            key = self.key_path.read_bytes()
        except OSError:
            raise CheckpointError(f"the checkpoint key {self.key_path.name} is missing") from None
        if not isinstance(signature, str) or not hmac.compare_digest(signature, _sign(key, fields)):
            raise CheckpointError(f"the checkpoint {self.path.name} is not signed by its key: it was edited")
        return Snapshot(**fields)

    def write(self, snapshot: Snapshot) -> None:
        fields = asdict(snapshot)
        document = {**fields, "signature": _sign(self._key(), fields)}
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
