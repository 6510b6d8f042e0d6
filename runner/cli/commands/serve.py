"""``playalter serve``: run the HTTP service (API, web page at /, docs at /docs).

The port is bound before anything is created: on a busy port the command
says so, suggests a free one and exits 1, and no admin key is made that nobody
would ever see. SIGTERM or SIGINT drain the service before it stops
(``server/http/draining.py``): ``/ready`` and new requests 503, the requests in
flight finished within ``server.shutdown_grace_seconds``. On the first start
(no API key stored yet) an admin key is created and printed once, with a
command that works as printed and writes the anonymised photo to
``anonymized.png``. Every file the service creates (keys,
jobs, results, audit log, secrets) is readable by its user only (umask 077).
"""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import os
import shlex
import signal
import socket
import sys
from pathlib import Path

EXIT_CANNOT_LISTEN = 1
CLOSE_SECONDS = 1.0  # after the drain (server.shutdown_grace_seconds), what still runs gets this long, then stops
PRIVATE_UMASK = 0o077


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP API service and web page")
    parser.add_argument("--host", help="address to listen on (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on, 0 for any free port (default: server.port, 8188)")
    parser.add_argument("--workers", type=int, help="worker threads for processing (default: server.workers)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ....pipelines.core.config import load_settings
    from ..extras import require

    require("server")

    overrides = {"PLAYALTER__SERVER__HOST": args.host, "PLAYALTER__SERVER__PORT": args.port,
                 "PLAYALTER__SERVER__WORKERS": args.workers}
    environ = {**os.environ, **{name: str(value) for name, value in overrides.items() if value is not None}}
    settings = load_settings(environ=environ)
    if settings.database.url:
        require("scale")
    host, port = settings.server.host, settings.server.port
    try:
        listener = listen(host, port)
    except OSError as error:
        sys.stderr.write(cannot_listen_message(host, port, error) + "\n")
        return EXIT_CANNOT_LISTEN
    os.umask(PRIVATE_UMASK)
    asyncio.run(_serve(settings, listener))
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=128, reuse_port=False)


def free_port(host: str, near: int) -> int | None:
    """A port that can be bound on ``host`` now: the next ones after ``near`` first, else any."""
    for candidate in [*range(near + 1, min(near + 21, 65536)), 0]:
        try:
            with listen(host, candidate) as probe:
                return probe.getsockname()[1]
        except OSError:
            continue
    return None


def cannot_listen_message(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        suggestion = free_port(host, port)
        comfy = " (8188 is also ComfyUI's default port)" if port == 8188 else ""
        advice = f"; port {suggestion} is free: playalter serve --port {suggestion}" if suggestion else ""
        return f"error: port {port} on {host} is already in use{comfy}{advice}"
    if error.errno in (errno.EACCES, errno.EPERM):
        return (f"error: not allowed to listen on port {port} of {host} (ports below 1024 need privileges); "
                "choose another with --port")
    return f"error: cannot listen on {host}:{port}: {error.strerror or error}; check --host and --port"


async def _serve(settings, listener: socket.socket) -> None:
    from aiohttp import web

    from ...server.http.app import create_app
    from ...server.http.auth import SECURITY
    from ...server.http.connections import GuardedAppRunner
    from ...server.http.draining import DRAIN
    from ...server.jobs.dispatcher import DISPATCHER

    app = create_app(settings)  # creates the data folder and, on a first start, the admin key
    # read timeouts and connection caps; requests still running once the drain is over are cancelled at once
    runner = GuardedAppRunner(app, access_log=None, shutdown_timeout=CLOSE_SECONDS)
    await runner.setup()
    site = web.SockSite(runner, listener)
    await site.start()
    host, port = runner.addresses[0][:2]
    _print_banner(f"http://{_display_host(host)}:{port}", app[SECURITY].admin_key, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        # stop admitting, let the requests in flight finish; a second signal does not cut this short
        await app[DRAIN].drain(settings.server.shutdown_grace_seconds, app[DISPATCHER].listeners)
    finally:
        await runner.cleanup()


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _sample_photo() -> str:
    """A photo that an installed package ships (insightface's t1.jpg), else a placeholder."""
    spec = importlib.util.find_spec("insightface")
    if spec is not None and spec.origin is not None:
        photo = Path(spec.origin).parent / "data" / "images" / "t1.jpg"
        if photo.is_file():
            return str(photo)
    return "photo.jpg"


def _print_banner(url: str, admin_key: str | None, settings) -> None:
    sys.stdout.write(banner(url, admin_key, Path(settings.paths.data_dir).resolve()))
    sys.stdout.flush()


def banner(url: str, admin_key: str | None, data_dir: Path) -> str:
    """What ``serve`` prints once it listens; its example command runs as printed in a POSIX shell."""
    key = admin_key or "$PLAYALTER_API_KEY"  # inside double quotes below, so the variable expands
    lines = [
        f"PLAYALTER is serving on {url}",
        f"  web page: {url}/    API docs: {url}/docs    health: {url}/health",
        f"  data (keys, jobs, audit log): {data_dir}",
    ]
    if admin_key:
        lines += ["", "First start: an admin API key was created. It is shown only now; store it:",
                  f"  {admin_key}",
                  "  (create keys for clients with: playalter keys create --tier basic --name NAME)"]
    else:
        lines += ["", "Use an API key (playalter keys create --tier basic): export PLAYALTER_API_KEY=<the key>"]
    lines += [
        "",
        "Try it: anonymise every face of a photo; the result is written to anonymized.png:",
        f"  printf '{{\"image_base64\": \"%s\"}}' \"$(base64 < {shlex.quote(_sample_photo())} | tr -d '\\n')\" |",
        f"    curl -s {url}/api/privacy/mask -H \"Authorization: Bearer {key}\" \\",
        "      -H 'Content-Type: application/json' --data-binary @- > anonymized.json",
        "  python3 -c \"import base64, json; r = json.load(open('anonymized.json')); "
        "open('anonymized.png', 'wb').write(base64.b64decode(r['images'][0]['base64'])) "
        "if 'images' in r else print(r)\"",
        "",
        "Stop with Ctrl+C.",
    ]
    return "\n".join(lines) + "\n"
