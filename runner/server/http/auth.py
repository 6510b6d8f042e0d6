"""Authentication for the HTTP service, and ``setup_security`` which wires all of it into an app.

A request authenticates with an API key or a session token (JWT), sent as
``Authorization: Bearer <key or token>`` or ``X-API-Key: <key or token>``.
``auth_middleware`` puts the caller's ``Principal`` in ``request[PRINCIPAL]``
(and ``request[AUTH_METHOD]``: ``api_key`` or ``jwt``; see ``context.py``) or answers 401 with a
JSON error and ``WWW-Authenticate``. Paths in the public set (``/``,
``/health``, ``/docs``, ``/openapi.json``, ``/static/...``, and ``/metrics``
when ``server.metrics_public``) pass without credentials.

Scopes: ``require_scope(request, "face:swap")`` inside a handler, or the
``@requires_scope("face:swap")`` decorator, answer 403 ``insufficient_scope``
unless the principal holds that scope or ``admin``.

Routes added by ``setup_security``:

- ``POST /api/auth/token``: exchange an API key for a session token
- ``GET /api/auth/me``: the caller's key id, tier, scopes and remaining quota (free)
- ``GET /api/keys``, ``POST /api/keys``, ``DELETE /api/keys/{key_id}``: key management (``admin`` scope)

Middleware order (outermost first): whatever the app installed before
``setup_security`` (error formatting, metrics), then auth, audit, rate limit,
then the app's handlers. So 401s are logged to the security log but not
audited (no key to attribute them to), while 429s and handler errors are.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from ....pipelines.core.errors import InvalidParameterError
from ....pipelines.core.quoting import excerpt
from .. import schemas
from ..errors import ApiError, json_error
from ..logs import security_event
from ..response_schemas import KEY_LIST, NEW_KEY, TOKEN
from ..route_docs import documented
from ..security.context import AUTH_METHOD, PRINCIPAL
from ..security.keys import (DEFAULT_SCOPES, KeyRecord, KeyStore, Principal, keys_db_path, looks_like_api_key,
                   parse_expiry)
from ..security.ratelimit import (AT_ADMISSION, LIMITER, RATE_STATUS, RateLimiter, add_rate_limit_headers, charge, rate_cost,
                        ratelimit_middleware)
from ..security.tokens import TokenError, TokenService, load_or_create_secret
from ..storage.audit_log import AuditLog, audit_db_path
from ..storage.database import Database
from .audit import AUDIT, AUDIT_NOTE, audit_middleware

DEFAULT_PUBLIC_PATHS = frozenset({"/", "/health", "/docs", "/openapi.json", "/favicon.ico"})
DEFAULT_PUBLIC_PREFIXES = ("/static/", "/docs/")
WWW_AUTHENTICATE = 'Bearer realm="playalter"'


@dataclass(frozen=True)
class PublicPaths:
    exact: frozenset[str] = DEFAULT_PUBLIC_PATHS
    prefixes: tuple[str, ...] = DEFAULT_PUBLIC_PREFIXES

    def __contains__(self, path: str) -> bool:
        return path in self.exact or path.startswith(self.prefixes)


KEYSTORE = web.AppKey("playalter_keystore", KeyStore)
TOKENS = web.AppKey("playalter_tokens", TokenService)
PUBLIC = web.AppKey("playalter_public_paths", PublicPaths)


@dataclass
class SecuritySetup:
    """What ``setup_security`` built; ``admin_key`` is the plaintext of a just-created first key (print it once)."""

    keystore: KeyStore
    tokens: TokenService
    limiter: RateLimiter
    audit: AuditLog
    admin_key: str | None = field(default=None, repr=False)


SECURITY = web.AppKey("security", SecuritySetup)  # set by the application to what setup_security returned


def unauthorized(code: str, message: str) -> web.HTTPException:
    challenge = WWW_AUTHENTICATE if code == "missing_credentials" else f'{WWW_AUTHENTICATE}, error="invalid_token"'
    return json_error(web.HTTPUnauthorized, code, message, {"WWW-Authenticate": challenge})


def presented_credential(request: web.Request) -> str:
    """The key or token from ``Authorization: Bearer`` or else ``X-API-Key``; '' when there is none."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key", "").strip()


def _reject(request: web.Request, reason: str, key_id: str | None, code: str, message: str) -> web.HTTPException:
    security_event("auth_failed", reason=reason, key_id=key_id, method=request.method, path=request.path,
                   remote=request.remote)
    return unauthorized(code, message)


_KEY_REJECTIONS = {
    "revoked": ("key_revoked", "this API key was revoked"),
    "expired": ("key_expired", "this API key has expired"),
}


@web.middleware
async def auth_middleware(request: web.Request, handler):
    if request.path in request.app[PUBLIC]:
        return await handler(request)
    credential = presented_credential(request)
    if not credential:
        raise _reject(request, "missing_credentials", None, "missing_credentials",
                      "send your API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    if looks_like_api_key(credential):
        check = request.app[KEYSTORE].check(credential)
        if check.principal is None:
            code, message = _KEY_REJECTIONS.get(check.reason, ("invalid_api_key", "this API key is not valid"))
            raise _reject(request, check.reason, check.key_id, code, message)
        request[PRINCIPAL], request[AUTH_METHOD] = check.principal, "api_key"
    else:
        try:
            principal = request.app[TOKENS].verify(credential)
        except TokenError as error:
            raise _reject(request, error.reason, None, error.reason, str(error)) from None
        request[PRINCIPAL], request[AUTH_METHOD] = principal, "jwt"
    return await handler(request)


def require_scope(request: web.Request, scope: str) -> Principal:
    """The request's principal if it holds ``scope`` (or ``admin``); 403 ``insufficient_scope`` otherwise."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        raise unauthorized("missing_credentials", "this endpoint needs an API key")
    if not principal.has_scope(scope):
        security_event("scope_denied", key_id=principal.key_id, scope=scope, method=request.method,
                       path=request.path, remote=request.remote)
        raise json_error(web.HTTPForbidden, "insufficient_scope", f"this API key lacks the '{scope}' scope")
    return principal


def requires_scope(scope: str):
    """Handler decorator: ``require_scope(request, scope)`` before the handler runs."""

    def decorate(handler):
        @functools.wraps(handler)
        async def checked(request: web.Request):
            require_scope(request, scope)
            return await handler(request)

        return checked

    return decorate


@documented("Exchange an API key for a session token", "Send the API key; answers a short-lived JWT usable as "
            "`Authorization: Bearer`. A token cannot be exchanged for another.", tag="auth", answer="the token",
            answer_schema=TOKEN, errors=(401, 403, 429))
async def issue_token(request: web.Request) -> web.Response:
    if request.get(AUTH_METHOD) != "api_key":
        raise json_error(web.HTTPForbidden, "api_key_required",
                         "a session token is issued in exchange for an API key, not for another token")
    issued = request.app[TOKENS].issue(request[PRINCIPAL])
    return web.json_response({
        "token": issued.token,
        "token_type": "Bearer",
        "expires_at": issued.expires_at,
        "expires_in": request.app[TOKENS].ttl_seconds,
    })


@documented("Who am I", "The caller's key id, tier, scopes, expiry and remaining rate-limit budget; free.",
            tag="auth", answer="the caller", answer_schema={"type": "object"}, errors=(401,))
@rate_cost(0)
async def who_am_i(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    status = request[RATE_STATUS]
    return web.json_response({
        "key_id": principal.key_id,
        "name": principal.name,
        "tier": principal.tier,
        "scopes": sorted(principal.scopes),
        "expires_at": principal.expires_at,
        "auth_method": request[AUTH_METHOD],
        "rate_limit": {"limit": status.limit, "remaining": status.remaining, "reset": status.reset_epoch},
        "jobs_running": request.app[LIMITER].jobs_running(principal),
    })


def key_json(record: KeyRecord) -> dict:
    return {
        "key_id": record.key_id,
        "name": record.name,
        "tier": record.tier,
        "scopes": list(record.scopes),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "status": record.status(),
    }


@documented("List API keys", "Every key, without secrets.", tag="auth", answer="keys", answer_schema=KEY_LIST,
            errors=(401, 403), scope="admin")
@requires_scope("admin")
async def list_keys(request: web.Request) -> web.Response:
    return web.json_response({"keys": [key_json(record) for record in request.app[KEYSTORE].list()]})


@documented("Create an API key", "The plaintext key is in the answer once (`api_key`).", tag="auth",
            body=schemas.KEY_CREATE_REQUEST, answer="the new key", answer_schema=NEW_KEY, status=201,
            errors=(400, 401, 403), scope="admin")
@rate_cost(AT_ADMISSION)
@requires_scope("admin")
async def create_key(request: web.Request) -> web.Response:
    try:
        body = schemas.validate(schemas.KEY_CREATE_REQUEST, schemas.parse_json(await request.read()))
    except ApiError as error:
        raise json_error(web.HTTPBadRequest, "invalid_parameter", error.message) from None
    await charge(request, 1)
    try:
        key_id, plaintext = request.app[KEYSTORE].create(
            tier=body["tier"], name=body["name"], scopes=body.get("scopes") or DEFAULT_SCOPES,
            expires_at=parse_expiry(body["expires"]) if body["expires"] else None,
        )
    except InvalidParameterError as error:
        raise json_error(web.HTTPBadRequest, "invalid_parameter", str(error)) from None
    request[AUDIT_NOTE].parameters.update(tier=body["tier"], created_key_id=key_id)
    record = request.app[KEYSTORE].get(key_id)
    return web.json_response({**key_json(record), "api_key": plaintext}, status=201)


@documented("Revoke an API key", "The key stops working at once.", tag="auth", answer="revoked",
            answer_schema={"type": "object"}, errors=(401, 403, 404), scope="admin")
@requires_scope("admin")
async def revoke_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    if not request.app[KEYSTORE].revoke(key_id):
        raise json_error(web.HTTPNotFound, "key_not_found", f"no active key with id {excerpt(key_id)}")
    return web.json_response({"key_id": key_id, "status": "revoked"})


def setup_security(app: web.Application, settings, data_dir: str | Path | None = None, *,
                   public_paths: PublicPaths | None = None, database: Database | None = None) -> SecuritySetup:
    """Install auth, audit and rate limiting on ``app``; returns what it built (and a first admin key, if any).

    Call it after adding the app's own outer middlewares (error formatting, metrics). ``database``: the shared
    Postgres database that holds the keys and the audit log instead of the SQLite files.
    """
    data_dir = Path(data_dir or settings.paths.data_dir)
    keystore = KeyStore(database or keys_db_path(settings, data_dir))
    security = SecuritySetup(
        keystore=keystore,
        tokens=TokenService(load_or_create_secret(settings.security.jwt_secret, data_dir),
                            settings.security.jwt_ttl_seconds, keystore),
        limiter=RateLimiter.from_settings(settings),
        audit=(AuditLog(database, settings.security.audit_checkpoint_secret) if database
               else AuditLog(audit_db_path(settings, data_dir))),
    )
    security.admin_key = keystore.ensure_admin_key()
    if public_paths is None:
        extra = {"/metrics"} if settings.server.metrics_public else set()
        public_paths = PublicPaths(exact=DEFAULT_PUBLIC_PATHS | extra)
    app[PUBLIC] = public_paths
    app[KEYSTORE] = security.keystore
    app[TOKENS] = security.tokens
    app[LIMITER] = security.limiter
    app[AUDIT] = security.audit
    app.middlewares.extend([auth_middleware, audit_middleware, ratelimit_middleware])
    app.on_response_prepare.append(add_rate_limit_headers)
    app.router.add_post("/api/auth/token", issue_token, name="auth.token")
    app.router.add_get("/api/auth/me", who_am_i, name="auth.me")
    app.router.add_get("/api/keys", list_keys, name="keys.list")
    app.router.add_post("/api/keys", create_key, name="keys.create")
    app.router.add_delete("/api/keys/{key_id}", revoke_key, name="keys.revoke")

    async def close(app: web.Application) -> None:
        security.audit.close()
        security.keystore.close()

    app.on_cleanup.append(close)
    return security
