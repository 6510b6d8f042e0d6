"""API keys, session tokens, scopes and the security log, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import jwt
import pytest
from yarl import URL

from playalter.pipelines.core.config import ConfigError
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.core.log import JsonFormatter
from playalter.runner.server.security.keys import KeyStore, parse_expiry
from playalter.runner.server.logs import (PERFORMANCE_LOGGER, SECURITY_LOGGER, redact_record, security_event,
                                         setup_log_files)
from playalter.runner.server.security.tokens import TokenError, TokenService, load_or_create_secret

from security_app import bearer, build_app, serve


def run(coroutine):
    return asyncio.run(coroutine)


async def error_of(response) -> tuple[int, str]:
    body = await response.json()
    return response.status, body["error"]["code"]


def test_missing_credentials_is_401_with_challenge_and_public_paths_stay_open(tmp_path):
    async def scenario():
        app, _ = build_app(tmp_path)
        async with serve(app) as client:
            response = await client.get("/api/ping")
            assert await error_of(response) == (401, "missing_credentials")
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert "X-RateLimit-Limit" not in response.headers
            unknown_route = await client.get("/api/no-such-route")
            assert unknown_route.status == 401  # routes are not revealed to anonymous callers
            basic_auth = await client.get("/api/ping", headers={"Authorization": "Basic dXNlcjpwYXNz"})
            assert await error_of(basic_auth) == (401, "missing_credentials")
            health = await client.get("/health")
            assert health.status == 200
            for sneaky in ("/static/../api/ping", "/docs/%2e%2e/api/ping", "/docs/..%2fapi/ping", "/health/../api/ping"):
                response = await client.get(URL(sneaky, encoded=True))
                assert response.status in (401, 404), sneaky  # never the protected handler

    run(scenario())


def test_valid_key_is_accepted_as_bearer_and_as_x_api_key(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path)
        _, key = security.keystore.create("basic", "client")
        async with serve(app) as client:
            assert (await client.get("/api/ping", headers=bearer(key))).status == 200
            assert (await client.get("/api/ping", headers={"X-API-Key": key})).status == 200
            behind_a_proxy = {"Authorization": "Basic cHJveHk6cGFzcw==", "X-API-Key": key}
            assert (await client.get("/api/ping", headers=behind_a_proxy)).status == 200

    run(scenario())


def test_bad_unknown_expired_and_revoked_keys_are_401(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path)
        store = security.keystore
        key_id, key = store.create("basic")
        _, expired = store.create("basic", expires_at=time.time() - 1)
        revoked_id, revoked = store.create("premium")
        assert store.revoke(revoked_id)
        wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        unknown_id = "pa_live_" + "0" * 12 + key[len("pa_live_") + 12:]
        async with serve(app) as client:
            for credential, code in [
                ("not-a-key", "invalid_token"),  # neither a key nor a well-formed token
                ("pa_live_garbage", "invalid_api_key"),
                (wrong_secret, "invalid_api_key"),
                (unknown_id, "invalid_api_key"),
                (expired, "key_expired"),
                (revoked, "key_revoked"),
            ]:
                response = await client.get("/api/ping", headers=bearer(credential))
                assert await error_of(response) == (401, code), credential
                assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
            assert (await client.get("/api/ping", headers=bearer(key))).status == 200

    run(scenario())


def test_session_token_exchange_and_rejections(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path)
        key_id, key = security.keystore.create("premium", "token user", scopes=["face:analyze", "jobs:read"])
        async with serve(app) as client:
            response = await client.post("/api/auth/token", headers=bearer(key))
            assert response.status == 200
            issued = await response.json()
            token = issued["token"]
            assert issued["token_type"] == "Bearer" and 0 < issued["expires_in"] <= 900

            me = await client.get("/api/auth/me", headers=bearer(token))
            assert me.status == 200
            identity = await me.json()
            assert identity["key_id"] == key_id and identity["auth_method"] == "jwt"
            assert identity["tier"] == "premium" and identity["scopes"] == ["face:analyze", "jobs:read"]
            assert (await client.get("/api/ping", headers={"X-API-Key": token})).status == 200

            refresh = await client.post("/api/auth/token", headers=bearer(token))
            assert await error_of(refresh) == (403, "api_key_required")

            claims = jwt.decode(token, options={"verify_signature": False})
            assert claims["sub"] == key_id and {"jti", "iat", "exp"} <= set(claims)
            other_secret = jwt.encode(claims, "a-different-secret-of-enough-length-0123456789", algorithm="HS256")
            unsigned = jwt.encode(claims, None, algorithm="none")
            expired = security.tokens.issue(security.keystore.authenticate(key), now=time.time() - 3600).token
            for forged, code in [(other_secret, "invalid_token"), (unsigned, "invalid_token"),
                                 (expired, "token_expired"), (token + "x", "invalid_token")]:
                assert await error_of(await client.get("/api/ping", headers=bearer(forged))) == (401, code)

            security.keystore.revoke(key_id)
            revoked = await client.get("/api/ping", headers=bearer(token))
            assert await error_of(revoked) == (401, "key_revoked")

    run(scenario())


@pytest.mark.parametrize("header", [b"Authorization: Bearer \xe9\xe9.\xe9\xe9.\xe9\xe9",
                                    b"X-API-Key: \xff\xfe", b"X-API-Key: pa_live_\xe9"])
def test_a_credential_of_bytes_that_are_not_utf8_is_401_never_500(tmp_path, header):
    """aiohttp reads such header bytes as lone surrogates, which PyJWT cannot encode."""
    async def scenario():
        app, _ = build_app(tmp_path)
        async with serve(app) as client:
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
            writer.write(b"GET /api/auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header + b"\r\n\r\n")
            answer = await reader.read()
            writer.close()
            status_line, _, body = answer.partition(b"\r\n\r\n")
            assert status_line.split(b" ")[1] == b"401", answer
            assert json.loads(body)["error"]["code"] in ("invalid_token", "invalid_api_key")

    run(scenario())


def test_scopes_are_enforced_with_403(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path)
        _, analyst = security.keystore.create("basic", scopes=["face:analyze"])
        _, swapper = security.keystore.create("basic", scopes=["face:swap"])
        admin = security.admin_key
        async with serve(app) as client:
            denied = await client.post("/api/swap", headers=bearer(analyst))
            assert await error_of(denied) == (403, "insufficient_scope")
            assert denied.headers["X-RateLimit-Limit"] == "100"
            assert (await client.post("/api/swap", headers=bearer(swapper))).status == 200
            assert (await client.post("/api/swap", headers=bearer(admin))).status == 200
            assert await error_of(await client.get("/api/keys", headers=bearer(swapper))) == (403, "insufficient_scope")

    run(scenario())


def test_admin_key_is_created_once_and_manages_keys_over_http(tmp_path):
    async def scenario():
        app, security = build_app(tmp_path)
        assert security.admin_key and security.admin_key.startswith("pa_live_")
        assert security.keystore.ensure_admin_key() is None
        _, again = build_app(tmp_path)
        assert again.admin_key is None  # a restart on the same data dir prints no new key
        async with serve(app) as client:
            admin = bearer(security.admin_key)
            created = await client.post("/api/keys", headers=admin,
                                        json={"tier": "enterprise", "name": "ci", "scopes": "batch,jobs:read",
                                              "expires": "7d"})
            assert created.status == 201
            record = await created.json()
            assert record["tier"] == "enterprise" and record["scopes"] == ["batch", "jobs:read"]
            assert record["expires_at"] == pytest.approx(time.time() + 7 * 86400, abs=60)
            new_key = record["api_key"]
            assert (await client.get("/api/ping", headers=bearer(new_key))).status == 200

            listing = await (await client.get("/api/keys", headers=admin)).json()
            assert {row["key_id"] for row in listing["keys"]} == {record["key_id"], security.admin_key[8:20]}
            assert new_key not in json.dumps(listing)

            for bad_body in ({"tier": "gold"}, {"scopes": 7}, {"scopes": ["face:fly"]}, {"expires": "someday"}, [1],
                             {"tier": "basic", "name": "ok\x1b[2J"}, {"tier": "basic", "name": "a\nb"}):
                bad = await client.post("/api/keys", headers=admin, json=bad_body)
                assert await error_of(bad) == (400, "invalid_parameter"), bad_body
            assert (await client.delete(f"/api/keys/{record['key_id']}", headers=admin)).status == 200
            assert await error_of(await client.get("/api/ping", headers=bearer(new_key))) == (401, "key_revoked")
            assert (await client.delete(f"/api/keys/{record['key_id']}", headers=admin)).status == 404

    run(scenario())


def test_keys_are_stored_only_as_hashes(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key_id, key = store.create("basic", "someone")
    store.close()
    secret = key[len("pa_live_") + 13:]
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert key_id.encode() in stored
    assert secret.encode() not in stored and key.encode() not in stored


def test_failed_auth_is_logged_without_the_key(tmp_path, caplog):
    formatter = JsonFormatter()

    async def scenario():
        app, security = build_app(tmp_path)
        key_id, key = security.keystore.create("basic")
        wrong = key[:-6] + "ZZZZZZ"
        async with serve(app) as client:
            assert (await client.get("/api/ping", headers=bearer(wrong))).status == 401
        return key_id, wrong

    with caplog.at_level(logging.INFO, logger=SECURITY_LOGGER):
        key_id, wrong = run(scenario())
    events = [record for record in caplog.records if record.name == SECURITY_LOGGER]
    assert [(record.event, record.reason, record.key_id) for record in events] == [
        ("auth_failed", "wrong_secret", key_id)
    ]
    written = "\n".join(formatter.format(record) for record in caplog.records) + caplog.text
    assert wrong not in written and wrong[21:] not in written
    assert json.loads(formatter.format(events[0]))["path"] == "/api/ping"


def test_log_files_are_json_lines_split_by_concern_and_redacted(tmp_path):
    package_logger = logging.getLogger("playalter")
    previous_level = package_logger.level
    package_logger.setLevel(logging.INFO)
    files = setup_log_files(tmp_path)
    key = "pa_live_0123456789ab_" + "k" * 43
    try:
        security_event("auth_failed", reason="wrong_secret", key_id="0123456789ab", path="/api/ping")
        logging.getLogger(PERFORMANCE_LOGGER).info("request", extra={"operation": "privacy.mask", "duration_ms": 12.5})
        logging.getLogger("playalter.runner.server.http.app").error("worker crashed while holding %s", key)
        try:
            raise ValueError(f"bad header X-API-Key: {key}")
        except ValueError:
            logging.getLogger("aiohttp.server").exception("Error handling request")
    finally:
        package_logger.setLevel(previous_level)
        files.close()

    def lines(name):
        return [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]

    assert [(entry["event"], entry["key_id"]) for entry in lines("security.jsonl")] == [("auth_failed", "0123456789ab")]
    assert [(entry["operation"], entry["duration_ms"]) for entry in lines("performance.jsonl")] == [("privacy.mask", 12.5)]
    errors = lines("errors.jsonl")  # from any logger, aiohttp's included
    assert [entry["message"] for entry in errors] == ["worker crashed while holding [redacted]", "Error handling request"]
    assert "ValueError: bad header X-API-Key: [redacted]" in errors[1]["exception"]
    assert len(lines("general.jsonl")) == 3
    assert key not in "".join(path.read_text() for path in tmp_path.iterdir())


def test_redaction_scrubs_keys_and_tokens_from_any_record():
    key = "pa_live_0123456789ab_" + "s" * 43
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    record = logging.makeLogRecord({"msg": "got %s then %s", "args": (key, token), "header": f"Bearer {token}"})
    redact_record(record)
    assert record.getMessage() == "got [redacted] then [redacted]"
    assert record.header == "Bearer [redacted]"
    cut = logging.makeLogRecord({"msg": f"line: b'X-API-Key: {key[:30]}...' Bearer 0123secret, {token[:20]}"})
    assert redact_record(cut).getMessage() == "line: b'X-API-Key: [redacted]...' Bearer [redacted], [redacted]"


def test_every_logger_of_the_process_is_redacted(caplog):
    key = "pa_live_0123456789ab_" + "q" * 43
    with caplog.at_level(logging.INFO):
        for name in ("aiohttp.server", "asyncio", "some.library", ""):
            logging.getLogger(name).warning("saw %s", key)
    assert len(caplog.records) == 4 and key[21:] not in caplog.text


def test_parse_expiry_reads_durations_and_iso_dates():
    now = 1_700_000_000.0
    assert parse_expiry("30d", now) == now + 30 * 86400
    assert parse_expiry("12h", now) == now + 12 * 3600
    assert parse_expiry("2w", now) == now + 14 * 86400
    assert parse_expiry("2030-01-01", now) == 1893456000.0
    assert parse_expiry("2030-01-01T01:00:00+01:00", now) == 1893456000.0
    for bad in ("soon", "2020-01-01", "0d"):
        with pytest.raises(InvalidParameterError):
            parse_expiry(bad, now)


def test_a_remembered_token_still_expires_and_dies_with_its_key(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    key_id, key = store.create("basic")
    tokens = TokenService("s" * 32, 60, store)
    token = tokens.issue(store.authenticate(key)).token
    assert tokens.verify(token).key_id == key_id
    assert tokens.verify(token).key_id == key_id  # second use: from the verified-token cache
    with pytest.raises(TokenError) as expired:
        tokens.verify(token, now=time.time() + 61)
    assert expired.value.reason == "token_expired"
    fresh = tokens.issue(store.authenticate(key)).token
    tokens.verify(fresh)
    store.revoke(key_id)
    with pytest.raises(TokenError) as revoked:
        tokens.verify(fresh)
    assert revoked.value.reason == "key_revoked"
    store.close()


def test_the_generated_token_secret_is_private_and_survives_restarts(tmp_path):
    first = load_or_create_secret("", tmp_path)
    assert len(first) >= 32 and load_or_create_secret("", tmp_path) == first
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["jwt_secret"]
    assert load_or_create_secret("c" * 40, tmp_path) == "c" * 40
    with pytest.raises(ConfigError):
        load_or_create_secret("too-short", tmp_path)
    (tmp_path / "jwt_secret").write_text("")
    with pytest.raises(ConfigError):
        load_or_create_secret("", tmp_path)


MALFORMED_CLAIMS = [
    {"exp": "9999999999"}, {"exp": None}, {"exp": True}, {"exp": [9999999999]}, {"exp": float("inf")},
    {"iat": "1700000000"}, {"iat": {"at": 1}}, {"nbf": "0"}, {"nbf": [0]},
    {"sub": 12}, {"sub": ["key"]}, {"sub": None}, {"sub": {"id": "x"}},
    {"scopes": "admin"}, {"scopes": 5}, {"scopes": [["admin"]]}, {"scopes": {"admin": True}}, {"scopes": None},
    {"jti": 7}, {"tier": ["basic"]},
]


@pytest.mark.parametrize("override", MALFORMED_CLAIMS, ids=lambda override: json.dumps(override, allow_nan=True))
def test_a_signed_token_with_a_malformed_claim_is_401_never_500(tmp_path, override):
    secret = "s" * 48

    async def scenario():
        app, security = build_app(tmp_path, PLAYALTER__SECURITY__JWT_SECRET=secret)
        key_id, key = security.keystore.create("basic", "claims")
        now = int(time.time())
        claims = {"iss": "playalter", "sub": key_id, "tier": "basic", "scopes": ["face:analyze"],
                  "jti": "j" * 32, "iat": now, "exp": now + 600}
        well_formed = jwt.encode(claims, secret, algorithm="HS256")
        malformed = jwt.encode({**claims, **override}, secret, algorithm="HS256")
        async with serve(app) as client:
            assert (await client.get("/api/auth/me", headers=bearer(well_formed))).status == 200
            for _ in range(2):  # the first use checks the signature, the second could reuse remembered claims
                response = await client.get("/api/auth/me", headers=bearer(malformed))
                assert await error_of(response) == (401, "invalid_token"), await response.text()

    run(scenario())
