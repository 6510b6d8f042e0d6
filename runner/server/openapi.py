"""The OpenAPI 3 description of the service (``/openapi.json``) and its offline browser (``/docs``).

Request bodies reuse the very schemas the server validates with
(``schemas.py``). ``/docs`` is a static page whose small script renders this
document: no CDN, no build step, works without a network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from ... import __version__
from . import schemas
from .state import SETTINGS

routes = web.RouteTableDef()
STATIC_DIR = Path(__file__).resolve().parent / "static"

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "description": "stable, machine-readable"},
        "message": {"type": "string", "description": "what went wrong and what to do, for people"},
        "details": {"description": "more context when there is some (node errors of a workflow, job id)"},
    }}},
}
IMAGE_OUTPUT = {"type": "object", "properties": {
    "node": {"type": "string"}, "title": {"type": "string"}, "filename": {"type": "string"},
    "content_type": {"type": "string"}, "base64": {"type": "string"},
}}
JSON_OUTPUT = {"type": "object", "properties": {
    "node": {"type": "string"}, "title": {"type": "string"}, "data": {"description": "the parsed JSON output"},
}}
RUN_RESULT = {
    "type": "object",
    "description": "the outputs of the saved workflow that ran",
    "properties": {
        "job_id": {"type": "string"},
        "workflow": {"type": "string"},
        "seconds": {"type": "number"},
        "images": {"type": "array", "items": {"$ref": "#/components/schemas/ImageOutput"}},
        "json": {"type": "array", "items": {"$ref": "#/components/schemas/JsonOutput"}},
    },
}
ANALYZE_RESULT = {
    "type": "object",
    "description": "the outputs of the analysis workflow, with its face report as `faces`",
    "properties": {**RUN_RESULT["properties"],
                   "faces": {"type": "array", "items": {"$ref": "#/components/schemas/FaceRecord"}}},
}
JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "operation": {"type": "string"},
        "workflow": {"type": "string"},
        "state": {"type": "string", "enum": ["queued", "running", "completed", "failed", "cancelled"]},
        "created_at": {"type": "number"}, "finished_at": {"type": ["number", "null"]},
        "expires_at": {"type": ["number", "null"], "description": "results are deleted after this time"},
        "progress": {"type": "object", "description": "item counts: total, queued, running, completed, ..."},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "index": {"type": "integer"}, "state": {"type": "string"},
            "error": {"type": "object"}, "seconds": {"type": "number"},
            "result": {"type": "object", "description": "images and JSON outputs, once completed"},
        }}},
        "error": {"type": "object"},
    },
}


def _error_responses(*statuses: int) -> dict[str, Any]:
    reasons = {400: "invalid request", 401: "missing or invalid credentials", 403: "missing scope or feature off",
               404: "not found", 409: "conflict", 413: "body too large",
               422: "image rejected (invalid_image) or no face found (no_face)",
               429: "rate limit or concurrent-job cap reached (see Retry-After)",
               503: "queue full (see Retry-After) or model missing", 504: "processing timed out"}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {str(status): {"description": reasons[status], **error} for status in statuses}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


def _operation(summary: str, description: str, request: dict[str, Any] | None, responses: dict[str, Any],
               *, public: bool = False, scope: str | None = None, tag: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"summary": summary, "description": description, "tags": [tag], "responses": responses}
    if scope:
        entry["description"] += f" Needs the `{scope}` scope."
    if request is not None:
        entry["requestBody"] = _body(request)
    if public:
        entry["security"] = []
    return entry


def build_spec(settings) -> dict[str, Any]:
    result = {"$ref": "#/components/schemas/RunResult"}
    job = {"$ref": "#/components/schemas/Job"}
    job_id = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    common = (400, 401, 403, 413, 422, 429, 503, 504)
    paths = {
        "/health": {"get": _operation("Liveness, queue state and dependency checks", "Always public; 200 while "
                                      "serving, `status` ok or degraded.", None,
                                      _ok("the service is up", {"type": "object"}), public=True, tag="service")},
        "/ready": {"get": _operation("Readiness", "Always public; 503 `not_ready` when a dependency (databases, "
                                     "rate-limit storage, workers, models folder) is down.", None,
                                     _ok("ready to serve", {"type": "object"}), public=True, tag="service")},
        "/api/services/status": {"get": _operation(
            "Capabilities and models", "Which operations are enabled, which workflows and models are present.",
            None, _ok("status", {"type": "object"}), tag="service")},
        "/api/face/analyze": {"post": _operation(
            "Analyse faces", "Runs the saved workflow `face_analysis_dense` (detection, 468 dense landmarks, "
            "measurements scaled by the iris) or, with FLAME, `face_analysis` (FLAME fit and its measurements). "
            "An image without a face is 422 `no_face`.",
            schemas.ANALYZE_REQUEST,
            {**_ok("the faces and the workflow's outputs", {"$ref": "#/components/schemas/AnalyzeResult"}),
             **_error_responses(*common)},
            scope="face:analyze", tag="faces")},
        "/api/privacy/mask": {"post": _operation(
            "Anonymise faces", "Runs `privacy_blur`, `privacy_audit` (include_audit) or `privacy_pixelate_levels` "
            "(create_levels).", schemas.PRIVACY_REQUEST, {**_ok("outputs", result), **_error_responses(*common)},
            scope="privacy:mask", tag="faces")},
        "/api/face/swap": {"post": _operation(
            "Swap a face", "Runs the saved workflow `face_swap`.", schemas.SWAP_REQUEST,
            {**_ok("outputs", result), **_error_responses(*common)}, scope="face:swap", tag="faces")},
        "/api/batch/process": {"post": _operation(
            "Start a batch job",
            f"Up to {settings.server.batch_max_images} images, one item each; answers 202 with the job. "
            "Each image costs one rate-limit unit. An `Idempotency-Key` header makes retries safe: the same key "
            "and body return the first job (200).",
            schemas.batch_request(settings.server.batch_max_images),
            {**_ok("the job, queued", job, "202"), **_error_responses(400, 401, 403, 409, 413, 429, 503)},
            scope="batch", tag="jobs")},
        "/api/workflows": {"get": _operation(
            "List saved workflows", "Names usable with /api/workflows/{name}/run.", None,
            _ok("names", {"type": "object"}), scope="workflows:run", tag="workflows")},
        "/api/workflows/{name}/run": {"post": {**_operation(
            "Run a saved workflow", "Bind images to LoadImage nodes and values to widgets by node id or title.",
            schemas.WORKFLOW_RUN_REQUEST,
            {**_ok("outputs (or, with async, the job: 202)", result), **_error_responses(*common, 404)},
            scope="workflows:run", tag="workflows"),
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}}]}},
        "/api/jobs/{job_id}": {
            "get": {**_operation("Job state and results", "Poll a job. `?include_images=true` embeds result "
                                 "images as base64.", None, {**_ok("the job", job), **_error_responses(404)},
                                 scope="jobs:read", tag="jobs"), "parameters": job_id},
            "delete": {**_operation("Cancel a job", "Queued items are cancelled, running ones stop at their next "
                                    "step.", None, {**_ok("the job", job), **_error_responses(404)},
                                    scope="jobs:read", tag="jobs"), "parameters": job_id},
        },
        "/api/jobs/{job_id}/events": {"get": {**_operation(
            "Follow a job (Server-Sent Events)",
            "Events: `job` (current state), `item` ({index, state, error?}), `progress` ({index, node_id, "
            "nodes_done, nodes_total, value, max}), `done` (the final job).", None,
            {"200": {"description": "text/event-stream"}, **_error_responses(404)},
            scope="jobs:read", tag="jobs"), "parameters": job_id}},
        "/api/jobs/{job_id}/download": {"get": {**_operation(
            "Download a finished job as zip", "job.json plus item-<index>/output/<file> for every result image.",
            None, {"200": {"description": "application/zip"}, **_error_responses(404, 409)},
            scope="jobs:read", tag="jobs"), "parameters": job_id}},
        "/metrics": {"get": _operation(
            "Prometheus metrics", "Public when server.metrics_public is set, else needs an admin key.", None,
            {"200": {"description": "text/plain; version=0.0.4"}}, public=settings.server.metrics_public,
            tag="service")},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "PLAYALTER API", "version": __version__,
                 "description": "Face analysis, privacy masks and face swap; every endpoint runs a saved workflow."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API key (pa_live_...) or a session JWT"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {"Error": ERROR, "RunResult": RUN_RESULT, "AnalyzeResult": ANALYZE_RESULT,
                        "FaceRecord": schemas.FACE_RECORD, "ImageOutput": IMAGE_OUTPUT,
                        "JsonOutput": JSON_OUTPUT, "Job": JOB},
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }


@routes.get("/openapi.json", name="openapi")
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(build_spec(request.app[SETTINGS]))


@routes.get("/docs", name="docs")
async def docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "docs.html")
