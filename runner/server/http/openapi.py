"""The OpenAPI 3 description of the service (``/openapi.json``), its offline browser (``/docs``) and icon.

The document is built from the application's routes: each handler declares
its operation with ``@documented`` (``route_docs.py``), with the request
schemas the server validates with (``schemas.py``) and the answer schemas of
``response_schemas.py``; whether an operation needs credentials comes from
the app's public paths. ``/docs`` is a static page whose small script renders
this document: no CDN, no build step, works without a network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

from .... import __version__
from ..response_schemas import COMPONENTS, ref
from ..route_docs import RouteDoc, Upload, is_page, page, route_doc
from ..state import SETTINGS
from .auth import PUBLIC

routes = web.RouteTableDef()
STATIC_DIR = Path(__file__).resolve().parent / "static"

# the order of the operations' groups in the document (and so on /docs)
TAG_ORDER = ("service", "faces", "auth", "jobs", "video", "workflows")
ERROR_REASONS = {
    400: "invalid request", 401: "missing or invalid credentials", 403: "missing scope or feature off",
    404: "not found", 409: "conflict", 413: "body too large", 415: "not multipart/form-data",
    422: "image or video rejected (invalid_image, invalid_video, video_too_long) or no face found (no_face)",
    429: "rate limit or concurrent-job cap reached (see Retry-After)",
    503: "queue full, database unavailable (see Retry-After) or model missing", 504: "processing timed out",
    507: "the server's disk is full (insufficient_storage, see Retry-After)",
}
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
PREFER_PARAMETER = {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": "`respond-async`: answer 202 with the job at once instead of waiting for the "
                                   "result (RFC 7240)"}
ASYNC_ANSWER = {"description": "with `Prefer: respond-async`: the job, queued (`Preference-Applied: respond-async`)",
                "headers": {"Location": {"description": "the job: /api/jobs/{id}", "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": ref("Job")}}}


def build_spec(app: web.Application) -> dict[str, Any]:
    """The API document of ``app``: an operation per documented route, grouped in ``TAG_ORDER``.

    Raises ``LookupError`` for a route that is neither ``@documented`` nor a ``@page``.
    """
    settings, public = app[SETTINGS], app[PUBLIC]
    operations: list[tuple[str, str, RouteDoc]] = []
    for route in app.router.routes():
        if route.method == "HEAD" or isinstance(route.resource, web.StaticResource) or is_page(route.handler):
            continue
        path, doc = route.resource.canonical, route_doc(route.handler)
        if doc is None:
            raise LookupError(f"{route.method} {path} is neither @documented nor a @page (route_docs.py)")
        operations.append((path, route.method.lower(), doc))
    paths: dict[str, dict[str, Any]] = {}
    for path, method, doc in sorted(operations, key=lambda operation: TAG_ORDER.index(operation[2].tag)):
        paths.setdefault(path, {})[method] = _operation(doc, path, settings, path in public)
    return {
        "openapi": "3.1.0",
        "info": {"title": "PLAYALTER API", "version": __version__,
                 "description": "Face analysis, privacy masks and face swap; every endpoint runs a saved workflow."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API key (pa_live_...) or a session JWT"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": COMPONENTS,
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }


def _operation(doc: RouteDoc, path: str, settings, public: bool) -> dict[str, Any]:
    description = doc.description(settings) if callable(doc.description) else doc.description
    if doc.scope:
        description += f" Needs the `{doc.scope}` scope."
    answer: dict[str, Any] = {"description": doc.answer}
    if doc.answer_schema is not None:
        answer["content"] = {"application/json": {"schema": doc.answer_schema}}
    error = {"content": {"application/json": {"schema": ref("Error")}}}
    entry: dict[str, Any] = {
        "summary": doc.summary, "description": description, "tags": [doc.tag],
        "responses": {str(doc.status): answer,
                      **{str(status): {"description": ERROR_REASONS[status], **error} for status in doc.errors}},
    }
    body = doc.body(settings) if callable(doc.body) else doc.body
    if body is not None:
        entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if doc.upload is not None:
        entry["requestBody"] = _multipart(doc.upload)
    if public:
        entry["security"] = []
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": doc.path_schemas.get(name, {"type": "string"})} for name in PATH_PARAMETER.findall(path)]
    if doc.respond_async:
        entry["responses"]["202"] = ASYNC_ANSWER
        parameters.append(PREFER_PARAMETER)
    if parameters:
        entry["parameters"] = parameters
    return entry


def _multipart(upload: Upload) -> dict[str, Any]:
    """A multipart upload: the file parts and the options as JSON text."""
    parts: dict[str, Any] = {name: {"type": "string", "format": "binary", "description": description}
                             for name, description in upload.files.items()}
    parts["options"] = {**upload.options, "description": "JSON text; every field is optional"}
    return {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "properties": parts, "required": list(upload.files)},
        "encoding": {"options": {"contentType": "application/json"}}}}}


@routes.get("/openapi.json", name="openapi")
@page
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(build_spec(request.app))


@routes.get("/docs", name="docs")
@page
async def docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "docs.html")


@routes.get("/favicon.ico", name="favicon")
@page
async def favicon(request: web.Request) -> web.FileResponse:
    """The PLAYALTER icon (SVG; browsers accept it under this name)."""
    return web.FileResponse(STATIC_DIR / "icon.svg", headers={"Content-Type": "image/svg+xml",
                                                              "Cache-Control": "max-age=86400"})
