"""Where a webhook may be sent: the URL's form, and every address its host resolves to (SSRF protection).

A webhook makes the server send a request to a place its caller chose, so the
caller could aim it at the server's own network: a database on localhost, an
admin page on the private network, the cloud metadata service that hands out
credentials. ``check_url`` refuses anything but an http(s) URL with a host;
``resolve_target`` resolves the host and refuses it when any of its addresses
is loopback, private, link-local, multicast, reserved, unspecified, a cloud
metadata address or otherwise not a public address. Both run at submission
(the caller gets 400 ``invalid_webhook_url``) and ``resolve_target`` again at
every delivery, whose connection goes to the address checked then (the sender
pins it), so a name that later resolves elsewhere (DNS rebinding) is a failed
attempt, not a request into the private network. ``allow_private`` (the
setting ``webhooks.allow_private_targets``) lifts the address checks, for
receivers on the same host or network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ....pipelines.core.quoting import excerpt

MAX_URL_CHARACTERS = 2048
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(text) for text in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
    "fd00:ec2::254",  # AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
))


class WebhookTargetError(Exception):
    """The URL or the addresses of its host are not a place a webhook may go; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its host and port, and the addresses a delivery connects to."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def check_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL with a host; WebhookTargetError otherwise."""
    if len(url) > MAX_URL_CHARACTERS:
        raise WebhookTargetError(f"the webhook URL is longer than {MAX_URL_CHARACTERS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookTargetError(f"{excerpt(url)} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetError(f"the webhook URL must start with http:// or https://, not {excerpt(url, 12)}")
    if not parts.hostname:
        raise WebhookTargetError(f"the webhook URL {excerpt(url)} has no host")
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise WebhookTargetError("the webhook URL contains spaces or control characters")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def address_refusal(address: str) -> str | None:
    """Why a webhook may not go to this IP address, or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a link-local IPv6 address may carry its zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for kind, refused in (("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified),
                          ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                          ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if refused:
            return f"a {kind} address"
    if not ip.is_global:
        return "not a public address"
    return None


async def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Check the URL, resolve its host and check every address (unless ``allow_private``).

    WebhookTargetError when the URL is malformed, the host does not resolve, or any address is refused.
    """
    host, port = check_url(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise WebhookTargetError(f"the webhook host {excerpt(host)} does not resolve") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)))
    if not addresses:
        raise WebhookTargetError(f"the webhook host {excerpt(host)} has no IPv4 or IPv6 address")
    if not allow_private:
        for address in addresses:
            refusal = address_refusal(address)
            if refusal is not None:
                raise WebhookTargetError(
                    f"the webhook host {excerpt(host)} resolves to {address}, {refusal}; webhooks go to public "
                    "addresses only (setting webhooks.allow_private_targets)")
    return Target(url, host, port, addresses)
