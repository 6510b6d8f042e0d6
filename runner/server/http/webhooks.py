"""The webhook endpoints (``GET /api/webhooks/secret``, ``POST /api/webhooks/secret/rotate``) and the check of a
submitted ``webhook_url``.

Any key may read and rotate its own secret: it is what the key's webhooks are
signed with (``webhooks/signing.py``). ``checked_webhook_url`` is what every
endpoint that takes a ``webhook_url`` calls before it creates the job: an
unusable URL, or a host that resolves to a refused address, is 400
``invalid_webhook_url`` (``webhooks/targets.py``).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import ApiError
from ..route_docs import documented
from ..security.context import PRINCIPAL
from ..security.ratelimit import rate_cost
from ..state import SETTINGS
from ..webhooks.signing import PREVIOUS_SECRET_SECONDS, SecretStore, SigningSecret
from ..webhooks.targets import WebhookTargetError, resolve_target

routes = web.RouteTableDef()

WEBHOOK_SECRETS = web.AppKey("webhook_secrets", SecretStore)

SECRET_ANSWER = {"type": "object", "properties": {
    "secret": {"type": "string", "description": "whsec_<base64 key>: the key that signs this API key's webhooks"},
    "created_at": {"type": "number"},
    "previous_expires_at": {"type": ["number", "null"],
                            "description": "until when the secret replaced by the last rotation still signs too"},
}}


async def checked_webhook_url(request: web.Request, url: str | None) -> str | None:
    """``url`` when a webhook may go there (None stays None); ApiError 400 ``invalid_webhook_url`` otherwise."""
    if url is None:
        return None
    try:
        await resolve_target(url, allow_private=request.app[SETTINGS].webhooks.allow_private_targets)
    except WebhookTargetError as refused:
        raise ApiError(400, "invalid_webhook_url", str(refused)) from None
    return url


@routes.get("/api/webhooks/secret", name="webhooks.secret")
@documented("Read your webhook signing secret",
            "The secret that signs the webhooks of jobs created with this key (`webhook-signature`, Standard "
            "Webhooks); made on first use. Free.", tag="jobs", answer="the secret", answer_schema=SECRET_ANSWER,
            errors=(401,))
@rate_cost(0)
async def read_secret(request: web.Request) -> web.Response:
    key_id = _key_id(request)
    return web.json_response(_secret_json(await asyncio.to_thread(request.app[WEBHOOK_SECRETS].current, key_id)))


@routes.post("/api/webhooks/secret/rotate", name="webhooks.rotate")
@documented("Rotate your webhook signing secret",
            f"A new secret signs from now on; the replaced one keeps signing beside it for "
            f"{PREVIOUS_SECRET_SECONDS / 3600:g} h (both signatures are sent), so receivers can switch over. A second "
            "rotation within that time ends the oldest secret at once.", tag="jobs", answer="the new secret",
            answer_schema=SECRET_ANSWER, errors=(401, 429))
async def rotate_secret(request: web.Request) -> web.Response:
    key_id = _key_id(request)
    return web.json_response(_secret_json(await asyncio.to_thread(request.app[WEBHOOK_SECRETS].rotate, key_id)))


def _key_id(request: web.Request) -> str:
    """The caller's key id: every key has a secret, whatever its scopes."""
    return request[PRINCIPAL].key_id


def _secret_json(secret: SigningSecret) -> dict:
    return {"secret": secret.secret, "created_at": secret.created_at,
            "previous_expires_at": secret.previous_expires_at}
