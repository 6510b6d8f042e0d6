"""What the security middlewares attach to each authenticated request.

    principal = request[PRINCIPAL]        # keys.Principal: key id, name, tier, scopes
    request[AUTH_METHOD]                  # "api_key" or "jwt"
    request.get(PRINCIPAL)                # None on public paths

The rate-limit state and the audit note have their own keys next to their
types: ``ratelimit.RATE_STATUS`` and ``audit.AUDIT_NOTE``.
"""

from __future__ import annotations

from aiohttp import web

from .keys import Principal

PRINCIPAL = web.RequestKey("playalter_principal", Principal)
AUTH_METHOD = web.RequestKey("playalter_auth_method", str)
