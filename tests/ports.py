"""A free TCP port on 127.0.0.1 for a server that a test or a bench script starts."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now (the system's pick for a socket bound to port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
