"""One webhook attempt over HTTP: resolve and check the target, connect to the checked address, POST, keep 1 kB.

The host is resolved and its addresses checked (``targets.resolve_target``)
right before the attempt, and aiohttp is handed those addresses through a
resolver that answers nothing else, so the connection goes where the check
looked (a name re-pointed between check and connect cannot move it). TLS still
verifies the certificate against the URL's host name. Redirects are not
followed (a 3xx is a failed attempt), the whole attempt is stopped after
``TIMEOUT_SECONDS``, at most ``KEPT_RESPONSE_BYTES`` of the answer are read
and kept, and no proxy from the environment is used.
"""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from .deliveries import Attempt
from .targets import Target, WebhookTargetError, resolve_target

TIMEOUT_SECONDS = 10.0
KEPT_RESPONSE_BYTES = 1024
USER_AGENT = "playalter-webhooks/1"


class _PinnedResolver(AbstractResolver):
    """Answers the checked addresses of the one target host."""

    def __init__(self, target: Target):
        self.target = target

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        if host != self.target.host:
            raise OSError(f"no address was checked for {host}")
        return [ResolveResult(hostname=host, host=address, port=port,
                              family=socket.AF_INET6 if ":" in address else socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)
                for address in self.target.addresses]

    async def close(self) -> None:
        pass


async def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> Attempt:
    """Send one attempt; its outcome (never an exception for a network or target failure)."""
    started = time.perf_counter()

    def outcome(status: int | None, error: str | None, response: str = "") -> Attempt:
        return Attempt(status, error, response, (time.perf_counter() - started) * 1000.0)

    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            target = await resolve_target(url, allow_private=allow_private)
            connector = aiohttp.TCPConnector(resolver=_PinnedResolver(target), use_dns_cache=False, force_close=True)
            async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
                async with session.post(url, data=body, allow_redirects=False,
                                        headers={**headers, "Content-Type": "application/json",
                                                 "User-Agent": USER_AGENT}) as response:
                    kept = await response.content.read(KEPT_RESPONSE_BYTES)
                    return outcome(response.status, None if 200 <= response.status < 300 else
                                   f"the receiver answered {response.status}", kept.decode("utf-8", "replace"))
    except WebhookTargetError as refused:
        return outcome(None, str(refused))
    except TimeoutError:
        return outcome(None, f"no answer within {TIMEOUT_SECONDS:g} s")
    except (aiohttp.ClientError, OSError) as error:
        return outcome(None, f"the connection failed ({type(error).__name__})")
