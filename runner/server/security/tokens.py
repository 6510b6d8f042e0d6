"""Short-lived JWT session tokens, issued in exchange for an API key.

Tokens are HS256-signed (PyJWT) with claims ``iss``, ``sub`` (the key id),
``tier``, ``scopes``, ``jti``, ``iat`` and ``exp``. ``verify`` accepts only
HS256 with our secret (so ``alg: none`` and tokens signed with any other
secret fail), requires every claim with the type it is issued with (a malformed claim is
``invalid_token``, never an error of the server), and then asks the key store whether the
key behind the token is still active: revoking a key kills its tokens at once.
A token whose signature checked out is remembered (bounded, by its exact
text), so a client reusing its token pays the signature and claim parsing
once; expiry (checked here rather than by PyJWT, so that it is one check for
both paths) and the key's state are checked on every use.

The secret is ``security.jwt_secret`` when set (replicas behind one load
balancer must share it), else a random one generated on first use and kept in
``<data dir>/jwt_secret`` (mode 0600), so tokens survive a restart.
"""

from __future__ import annotations

import math
import os
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt

from ....pipelines.core.config import ConfigError
from .keys import KeyStore, Principal

ALGORITHM = "HS256"
ISSUER = "playalter"
MIN_SECRET_LENGTH = 32
SECRET_FILE = "jwt_secret"
VERIFIED_CACHE_SIZE = 4096
_REQUIRED_CLAIMS = ["iss", "sub", "jti", "iat", "exp"]
_DEAD_KEY = {
    "revoked": ("key_revoked", "the API key behind this session token was revoked"),
    "expired": ("key_expired", "the API key behind this session token has expired"),
}


class TokenError(Exception):
    """A token was refused; ``reason`` is a stable code (``invalid_token``, ``token_expired``, ``key_revoked``...)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int


def load_or_create_secret(configured: str, data_dir: str | Path) -> str:
    """The configured secret, else the one persisted in the data dir (created on first use)."""
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise ConfigError(f"security.jwt_secret must be at least {MIN_SECRET_LENGTH} characters long")
        return configured
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        _create_secret_file(path)
    secret = path.read_text(encoding="utf-8").strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{path} does not hold a usable token secret; delete it to generate a new one "
                          "(session tokens issued so far stop working)")
    return secret


def _create_secret_file(path: Path) -> None:
    """Write a fresh secret so that no process can ever read the file half-written: temp file, then link."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".jwt_secret.")  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48))
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process won the race; its secret is complete
    finally:
        os.unlink(temporary)


class TokenService:
    def __init__(self, secret: str, ttl_seconds: int, keystore: KeyStore):
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self._keystore = keystore
        self._verified: dict[str, dict] = {}  # token -> claims, oldest first; at most VERIFIED_CACHE_SIZE

    def issue(self, principal: Principal, now: float | None = None) -> IssuedToken:
        """A token for ``principal``; it never outlives the key itself."""
        issued_at = int(time.time() if now is None else now)
        expires_at = issued_at + self.ttl_seconds
        if principal.expires_at is not None:
            expires_at = min(expires_at, int(principal.expires_at))
        claims = {
            "iss": ISSUER,
            "sub": principal.key_id,
            "tier": principal.tier,
            "scopes": sorted(principal.scopes),
            "jti": uuid.uuid4().hex,
            "iat": issued_at,
            "exp": expires_at,
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires_at)

    def verify(self, token: str, now: float | None = None) -> Principal:
        """The principal a valid token stands for; ``TokenError`` otherwise."""
        claims = self._verified_claims(token, time.time() if now is None else now)
        check = self._keystore.check_key_id(claims["sub"])
        if check.principal is None:
            raise TokenError(*_DEAD_KEY.get(check.reason, ("invalid_token", "the session token is not valid")))
        key = check.principal
        granted = frozenset(claims.get("scopes", ())) & key.scopes
        return Principal(key.key_id, key.name, key.tier, granted, key.expires_at)

    def _verified_claims(self, token: str, now: float) -> dict:
        """Claims of an unexpired token whose signature checked out; repeat uses skip the signature check."""
        claims = self._verified.get(token)
        if claims is None:
            if not token.isascii():  # a JWT is base64url and dots; other bytes (Latin-1 headers) are not one
                raise TokenError("invalid_token", "the session token is not valid")
            try:
                claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                    options={"require": _REQUIRED_CLAIMS, "verify_exp": False})
            except jwt.InvalidTokenError:
                raise TokenError("invalid_token", "the session token is not valid") from None
            if not _well_typed(claims):
                raise TokenError("invalid_token", "the session token is not valid")
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
        if claims["exp"] <= now:
            self._verified.pop(token, None)
            raise TokenError("token_expired", "the session token has expired; exchange your API key for a new one")
        return claims


def _well_typed(claims: object) -> bool:
    """Whether every claim we read has the type we issue: a signed token with a malformed claim is refused."""
    if not isinstance(claims, dict):
        return False
    times = [claims.get(name) for name in ("iat", "exp", "nbf") if name in claims]
    texts = [claims.get(name) for name in ("iss", "sub", "jti", "tier") if name in claims]
    scopes = claims.get("scopes", [])
    return (all(_is_epoch(value) for value in times) and all(isinstance(value, str) for value in texts)
            and isinstance(scopes, list) and all(isinstance(scope, str) for scope in scopes))


def _is_epoch(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
