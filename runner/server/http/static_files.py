"""The web page's files under ``/static/``: only the files the package ships, found by name.

A requested name is looked up in the folder's listing, never joined onto a folder and handed to the file
system: ``..``, a NUL or a name longer than the file system allows is a plain 404, not an ``OSError``
(aiohttp's own static route answers a name over 255 bytes with a 500).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..route_docs import page

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.is_file()}

routes = web.RouteTableDef()


@routes.get("/static/{name}", name="static")
@page
async def static_file(request: web.Request) -> web.FileResponse:
    path = STATIC_FILES.get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path)
