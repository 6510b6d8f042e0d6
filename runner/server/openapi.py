"""The OpenAPI 3 description of the service (``/openapi.json``), its offline browser (``/docs``) and icon.

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
WARNINGS = {"type": "array", "items": {"type": "string"},
            "description": "what the caller should know although the request succeeded; empty when nothing"}
PRIVACY_RESULT = {
    "type": "object",
    "description": "the outputs of the privacy workflow, with how many faces were hidden",
    "properties": {**RUN_RESULT["properties"],
                   "faces_hidden": {"type": "integer", "description": "faces detected and masked; 0 means the "
                                                                      "image came back unchanged (see warnings)"},
                   "warnings": WARNINGS},
}
SWAP_RESULT = {
    "type": "object",
    "description": "the outputs of the swap workflow, with the method used",
    "properties": {**RUN_RESULT["properties"],
                   "method": {"type": "string", "enum": ["inswapper", "classical"]},
                   "warnings": {**WARNINGS, "description": "e.g. a fall back to the model-free method"}},
}
KEY = {"type": "object", "properties": {
    "key_id": {"type": "string"}, "name": {"type": "string"}, "tier": {"type": "string"},
    "scopes": {"type": "array", "items": {"type": "string"}}, "created_at": {"type": "number"},
    "expires_at": {"type": ["number", "null"]}, "revoked_at": {"type": ["number", "null"]},
    "status": {"type": "string"},
}}
KEY_CREATE_REQUEST = {"type": "object", "properties": {
    "tier": {"type": "string", "default": "basic"}, "name": {"type": "string"},
    "scopes": {"type": "array", "items": {"type": "string"}, "description": "default: every non-admin scope"},
    "expires": {"type": "string", "description": "a duration such as 30d or an ISO date"},
}}
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
            "result": {"type": "object", "description": "images and JSON outputs, once completed; for a video "
                       "job also `video` (filename, content_type, bytes)"},
        }}},
        "error": {"type": "object"},
    },
}


def _error_responses(*statuses: int) -> dict[str, Any]:
    reasons = {400: "invalid request", 401: "missing or invalid credentials", 403: "missing scope or feature off",
               404: "not found", 409: "conflict", 413: "body too large", 415: "not multipart/form-data",
               422: "image or video rejected (invalid_image, invalid_video, video_too_long) or no face found (no_face)",
               429: "rate limit or concurrent-job cap reached (see Retry-After)",
               503: "queue full (see Retry-After) or model missing", 504: "processing timed out"}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {str(status): {"description": reasons[status], **error} for status in statuses}


def _video_body(options: dict[str, Any], photo: bool) -> dict[str, Any]:
    """A multipart video upload: the file part(s) and the options as JSON text."""
    parts: dict[str, Any] = {"video": {"type": "string", "format": "binary",
                                       "description": "the video (mp4, mov, mkv, webm, avi), streamed to disk"}}
    if photo:
        parts["source"] = {"type": "string", "format": "binary", "description": "a photo of the source face"}
    parts["options"] = {**options, "description": "JSON text; every field is optional"}
    return {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "properties": parts, "required": [name for name in parts if name != "options"]},
        "encoding": {"options": {"contentType": "application/json"}}}}}


def _video_operation(summary: str, description: str, options: dict[str, Any], photo: bool, scope: str,
                     settings) -> dict[str, Any]:
    limits = (f" Limits: {settings.video.max_upload_mb:g} MB (413 `video_too_large`), "
              f"{settings.video.max_duration_seconds:g} s (422 `video_too_long`); an undecodable file is 422 "
              f"`invalid_video`. Costs one rate-limit unit per started {settings.video.seconds_per_unit:g} s of "
              "video. Follow the job with /api/jobs/{id} and its events; /download sends the MP4.")
    entry = _operation(summary, description + limits, None,
                       {**_ok("the job, queued", {"$ref": "#/components/schemas/Job"}, "202"),
                        **_error_responses(400, 401, 403, 409, 413, 415, 422, 429, 503)}, scope=scope, tag="video")
    entry["requestBody"] = _video_body(options, photo)
    return entry


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
            "Capabilities and models", "Which operations are enabled, which workflows and models are present, "
            "and per capability and option whether it is `usable` now (`reason` says why not, or what is "
            "degraded, e.g. a swap without InSwapper), and `execution`: where models run (`path`) and why (`reason`).",
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
            "(create_levels). `faces_hidden` counts the masked faces; an image without a face comes back "
            "unchanged with a warning.", schemas.PRIVACY_REQUEST,
            {**_ok("outputs", {"$ref": "#/components/schemas/PrivacyResult"}), **_error_responses(*common)},
            scope="privacy:mask", tag="faces")},
        "/api/face/swap": {"post": _operation(
            "Swap a face", "Runs the saved workflow `face_swap`; faces are numbered largest first. A swap "
            "without the InSwapper model falls back to the model-free warp and says so in `warnings`.",
            schemas.SWAP_REQUEST,
            {**_ok("outputs", {"$ref": "#/components/schemas/SwapResult"}), **_error_responses(*common)},
            scope="face:swap", tag="faces")},
        "/api/auth/token": {"post": _operation(
            "Exchange an API key for a session token", "Send the API key; answers a short-lived JWT usable as "
            "`Authorization: Bearer`. A token cannot be exchanged for another.", None,
            {**_ok("the token", {"type": "object", "properties": {
                "token": {"type": "string"}, "token_type": {"type": "string"},
                "expires_at": {"type": "number"}, "expires_in": {"type": "integer"}}}),
             **_error_responses(401, 403, 429)}, tag="auth")},
        "/api/auth/me": {"get": _operation(
            "Who am I", "The caller's key id, tier, scopes, expiry and remaining rate-limit budget; free.", None,
            {**_ok("the caller", {"type": "object"}), **_error_responses(401)}, tag="auth")},
        "/api/keys": {
            "get": _operation("List API keys", "Every key, without secrets.", None,
                              {**_ok("keys", {"type": "object", "properties": {"keys": {
                                  "type": "array", "items": {"$ref": "#/components/schemas/Key"}}}}),
                               **_error_responses(401, 403)}, scope="admin", tag="auth"),
            "post": _operation("Create an API key", "The plaintext key is in the answer once (`api_key`).",
                               KEY_CREATE_REQUEST,
                               {**_ok("the new key", {"allOf": [{"$ref": "#/components/schemas/Key"}, {
                                   "type": "object", "properties": {"api_key": {"type": "string"}}}]}, "201"),
                                **_error_responses(400, 401, 403)}, scope="admin", tag="auth"),
        },
        "/api/keys/{key_id}": {"delete": {**_operation(
            "Revoke an API key", "The key stops working at once.", None,
            {**_ok("revoked", {"type": "object"}), **_error_responses(401, 403, 404)}, scope="admin", tag="auth"),
            "parameters": [{"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}]}},
        "/api/batch/process": {"post": _operation(
            "Start a batch job",
            f"Up to {settings.server.batch_max_images} images, one item each; answers 202 with the job. "
            "Each image costs one rate-limit unit. An `Idempotency-Key` header makes retries safe: the same key "
            "and body return the first job (200).",
            schemas.batch_request(settings.server.batch_max_images),
            {**_ok("the job, queued", job, "202"), **_error_responses(400, 401, 403, 409, 413, 429, 503)},
            scope="batch", tag="jobs")},
        "/api/video/anonymize": {"post": _video_operation(
            "Anonymise the faces of a video (job)", "Streams the video through the tracker and masker, keeping "
            "the audio, rotation and frame timing; answers 202 with the job.",
            schemas.VIDEO_ANONYMIZE_OPTIONS, False, "privacy:mask", settings)},
        "/api/video/swap": {"post": _video_operation(
            "Swap a face into a video (job)", "The face of the source photo onto the chosen tracked faces of "
            "every frame, the audio kept; answers 202 with the job.",
            schemas.VIDEO_SWAP_OPTIONS, True, "face:swap", settings)},
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
            "nodes_done, nodes_total, value, max}; for a video job {index, frames_done, frames_total, fps, value, "
            "max}), `done` (the final job).", None,
            {"200": {"description": "text/event-stream"}, **_error_responses(404)},
            scope="jobs:read", tag="jobs"), "parameters": job_id}},
        "/api/jobs/{job_id}/download": {"get": {**_operation(
            "Download a finished job", "A zip: job.json plus item-<index>/output/<file> for every result image. "
            "A video job: its MP4 (409 `no_result` when it failed or was cancelled).",
            None, {"200": {"description": "application/zip, or video/mp4 for a video job"},
                   **_error_responses(404, 409)},
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
                        "PrivacyResult": PRIVACY_RESULT, "SwapResult": SWAP_RESULT, "Key": KEY,
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


@routes.get("/favicon.ico", name="favicon")
async def favicon(request: web.Request) -> web.FileResponse:
    """The PLAYALTER icon (SVG; browsers accept it under this name)."""
    return web.FileResponse(STATIC_DIR / "icon.svg", headers={"Content-Type": "image/svg+xml",
                                                              "Cache-Control": "max-age=86400"})
