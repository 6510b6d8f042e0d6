"""``playalter serve``: run the HTTP service (API, web page at /, docs at /docs).

On the first start (no API key stored yet) an admin key is created and
printed once, with a ``curl`` command that works as printed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP API service and web page")
    parser.add_argument("--host", help="address to listen on (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on, 0 for any free port (default: server.port, 8188)")
    parser.add_argument("--workers", type=int, help="worker threads for processing (default: server.workers)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import os

    from ...pipelines.config import load_settings

    overrides = {"PLAYALTER__SERVER__HOST": args.host, "PLAYALTER__SERVER__PORT": args.port,
                 "PLAYALTER__SERVER__WORKERS": args.workers}
    environ = {**os.environ, **{name: str(value) for name, value in overrides.items() if value is not None}}
    settings = load_settings(environ=environ)
    asyncio.run(_serve(settings))
    return 0


async def _serve(settings) -> None:
    from aiohttp import web

    from ..server.app import create_app
    from ..server.connections import GuardedAppRunner
    from ..server.state import SECURITY

    app = create_app(settings)
    runner = GuardedAppRunner(app, access_log=None)  # read timeouts and connection caps
    await runner.setup()
    site = web.TCPSite(runner, settings.server.host, settings.server.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    _print_banner(f"http://{_display_host(host)}:{port}", app[SECURITY].admin_key, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
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
    key = admin_key or "$PLAYALTER_API_KEY"
    lines = [
        f"PLAYALTER is serving on {url}",
        f"  web page: {url}/    API docs: {url}/docs    health: {url}/health",
        f"  data (keys, jobs, audit log): {Path(settings.paths.data_dir).resolve()}",
    ]
    if admin_key:
        lines += ["", "First start: an admin API key was created. It is shown only now; store it:",
                  f"  {admin_key}",
                  "  (create keys for clients with: playalter keys create --tier basic --name NAME)"]
    else:
        lines += ["", "Use an API key (playalter keys create --tier basic) as PLAYALTER_API_KEY."]
    lines += [
        "",
        "Try it: anonymise every face of a photo (the answer holds the result image as base64):",
        f"  printf '{{\"image_base64\": \"%s\"}}' \"$(base64 < {_sample_photo()} | tr -d '\\n')\" |",
        f"    curl -s {url}/api/privacy/mask -H 'Authorization: Bearer {key}' \\",
        "      -H 'Content-Type: application/json' --data-binary @- | head -c 400; echo",
        "",
        "Stop with Ctrl+C.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
