"""The HTTP endpoints. Every operation becomes a job run by the dispatcher: one code path.

Single-image endpoints (analyze, privacy mask, swap, a workflow run) wait for
their one-item job and answer with its result; ``/api/batch/process`` (and a
single call sent with ``Prefer: respond-async``, or a workflow run with
``"async": true``) answers 202 with the job and its ``Location`` at once, to be
followed through ``/api/jobs/{job_id}`` (polling), ``.../events`` (SSE) and
``.../download`` (zip), or told of its end at its ``webhook_url``
(``webhooks/``). Video jobs (``video.py``) are followed and downloaded the
same way; their download is the MP4 itself.

Request bodies are read, parsed, checked and base64-decoded on a helper thread,
never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from ....pipelines.core.quoting import excerpt
from .. import schemas
from ..errors import ApiError
from ..faults import answer_for_code
from ..jobs.dispatcher import DISPATCHER, Dispatcher
from ..jobs.operations import OPERATIONS, Operation, Plan, job_answer
from ..jobs.store import Job
from ..jobs.video_jobs import VIDEO_OUTPUT_OPERATIONS, VIDEO_RESULT_FIELDS, video_download
from ..jobs.workers import QueueFull
from ..jobs.workflows import NAME_PATTERN, WORKFLOWS
from ..response_schemas import ref
from ..route_docs import documented
from ..security.context import PRINCIPAL
from ..security.ratelimit import AT_ADMISSION, LIMITER, charge, rate_cost
from ..state import SETTINGS
from ..webhooks import deliveries
from .audit import AUDIT_NOTE
from .auth import require_scope
from .webhooks import checked_webhook_url

routes = web.RouteTableDef()

SSE_KEEPALIVE_SECONDS = 15.0
SINGLE_IMAGE_ERRORS = (400, 401, 403, 413, 422, 429, 503, 504, 507)  # the error statuses of a one-item run

# HTTP status of a single-item job that failed, by the item's error code
_FAILURE_STATUS = {
    "invalid_image": 422,
    "no_face": 422,
    "invalid_parameter": 400,
    "invalid_binding": 400,
    "workflow_invalid": 400,
    "model_missing": 503,
    "dependency_missing": 503,
    "model_corrupt": 503,
    "model_download_failed": 503,
    "timeout": 504,
    "cancelled": 409,
}


@routes.get("/api/workflows", name="workflows.list")
@documented("List saved workflows", "Names usable with /api/workflows/{name}/run.", tag="workflows",
            answer="names", answer_schema={"type": "object"}, scope="workflows:run")
async def list_workflows(request: web.Request) -> web.Response:
    require_scope(request, "workflows:run")
    return web.json_response({"workflows": request.app[WORKFLOWS].names()})


# --- single-image operations ----------------------------------------------------------------------

@routes.post("/api/face/analyze", name="face.analyze")
@documented("Analyse faces", "Runs the saved workflow `face_analysis_dense` (detection, 468 dense landmarks, "
            "measurements scaled by the iris) or, with FLAME, `face_analysis` (FLAME fit and its measurements). "
            "`images_base64` with `fuse`: 2-16 photos of one person measured and fused (one face record on the "
            "reference photo; photos of different people are 400). "
            "An image without a face is 422 `no_face`.", tag="faces",
            body=schemas.ANALYZE_REQUEST, answer="the faces and the workflow's outputs",
            answer_schema=ref("AnalyzeResult"), errors=SINGLE_IMAGE_ERRORS, scope="face:analyze",
            respond_async=True)
@rate_cost(AT_ADMISSION)
async def face_analyze(request: web.Request) -> web.Response:
    return await _run_operation(request, OPERATIONS["analyze"], schemas.ANALYZE_REQUEST)


@routes.post("/api/privacy/mask", name="privacy.mask")
@documented("Anonymise faces", "Runs `privacy_blur`, `privacy_audit` (include_audit), `privacy_pixelate_levels` "
            "(create_levels) or `privacy_people` (people: everyone except, or only, the person of "
            "`reference_base64`). `faces_hidden` counts the masked faces; an image without a face comes back "
            "unchanged with a warning.", tag="faces",
            body=schemas.PRIVACY_REQUEST, answer="outputs", answer_schema=ref("PrivacyResult"),
            errors=SINGLE_IMAGE_ERRORS, scope="privacy:mask", respond_async=True)
@rate_cost(AT_ADMISSION)
async def privacy_mask(request: web.Request) -> web.Response:
    return await _run_operation(request, OPERATIONS["privacy"], schemas.PRIVACY_REQUEST)


@routes.post("/api/face/swap", name="face.swap")
@documented("Swap a face", "Runs the saved workflow `face_swap`; faces are numbered largest first. A swap "
            "without the InSwapper model falls back to the model-free warp and says so in `warnings`.",
            tag="faces", body=schemas.SWAP_REQUEST, answer="outputs", answer_schema=ref("SwapResult"),
            errors=SINGLE_IMAGE_ERRORS, scope="face:swap", respond_async=True)
@rate_cost(AT_ADMISSION)
async def face_swap(request: web.Request) -> web.Response:
    return await _run_operation(request, OPERATIONS["swap"], schemas.SWAP_REQUEST)


@routes.post("/api/face/compare", name="face.compare")
@documented("Compare two faces", "Runs the saved workflow `face_compare`: is the face of `image_base64` the same "
            "person as the face of `reference_base64` (the largest of each unless `face_index` / "
            "`reference_face_index` say otherwise)? Answers the `distance`, `same_person` at the model's "
            "`threshold`, and the `model` that judged with its licence. An image without a face is 422 `no_face`.",
            tag="faces", body=schemas.COMPARE_REQUEST, answer="the comparison and the workflow's outputs",
            answer_schema=ref("CompareResult"), errors=SINGLE_IMAGE_ERRORS, scope="face:analyze",
            respond_async=True)
@rate_cost(AT_ADMISSION)
async def face_compare(request: web.Request) -> web.Response:
    return await _run_operation(request, OPERATIONS["compare"], schemas.COMPARE_REQUEST)


async def _run_operation(request: web.Request, operation: Operation, schema: dict) -> web.Response:
    require_scope(request, operation.scope)
    _check_enabled(request, operation)
    body, raw = await _read_body(request, schema)
    asynchronous = prefers_async(request)
    webhook_url = await _single_call_webhook(request, body, asynchronous)
    images = await asyncio.to_thread(lambda: _decoded_images(operation, body))
    parameters = {name: body[name] for name in operation.parameters}
    note_audit(request, operation.name, images.values(), parameters)
    if asynchronous:
        return await start_job(request, operation.name, operation.plan(parameters), [images],
                               hashlib.sha256(raw).hexdigest(), webhook_url=webhook_url)
    job = await _run_now(request, operation.name, operation.plan(parameters), images)
    return await _result_response(request, job, operation.answer)


def _decoded_images(operation: Operation, body: dict[str, Any]) -> dict[str, bytes]:
    """The request's images by the LoadImage title (or direct-run binding) they go to; a list field's
    images as "image 0", "image 1", ... (a bad one is 400 naming its index)."""
    images = {title: schemas.decode_image(body[field], field) for field, title in operation.image_fields.items()
              if field in body}
    for index, text in enumerate(body.get(operation.image_list, ()) if operation.image_list else ()):
        images[f"image {index}"] = schemas.decode_image(text, f"{operation.image_list}.{index}")
    return images


def prefers_async(request: web.Request) -> bool:
    """Whether the request says ``Prefer: respond-async`` (RFC 7240: comma-separated preferences, names in any
    case, possibly with values or parameters, in one or several ``Prefer`` headers)."""
    return any(preference.split(";")[0].split("=")[0].strip().lower() == "respond-async"
               for header in request.headers.getall("Prefer", ()) for preference in header.split(","))


async def _single_call_webhook(request: web.Request, body: dict[str, Any], asynchronous: bool) -> str | None:
    """The checked ``webhook_url`` of a single call; 400 when it comes with a call that waits for its result."""
    if body.get("webhook_url") is not None and not asynchronous:
        raise ApiError(400, "invalid_request", "webhook_url is for calls answered at once with their job: send the "
                       "header 'Prefer: respond-async' with it")
    return await checked_webhook_url(request, body.get("webhook_url"))


@routes.post("/api/workflows/{name}/run", name="workflows.run")
@documented("Run a saved workflow", "Bind images to LoadImage nodes and values to widgets by node id or title.",
            tag="workflows", body=schemas.WORKFLOW_RUN_REQUEST,
            answer="outputs", answer_schema=ref("RunResult"),
            errors=(*SINGLE_IMAGE_ERRORS, 404), scope="workflows:run", respond_async=True,
            path_schemas={"name": {"type": "string", "pattern": f"^{NAME_PATTERN.pattern}$"}})
@rate_cost(AT_ADMISSION)
async def run_workflow(request: web.Request) -> web.Response:
    require_scope(request, "workflows:run")
    name = request.match_info["name"]
    request.app[WORKFLOWS].path(name)  # 400 / 404 before the body is read
    body, raw = await _read_body(request, schemas.WORKFLOW_RUN_REQUEST)
    images = await asyncio.to_thread(lambda: {title: schemas.decode_image(text, f"images.{excerpt(title)}")
                                              for title, text in body["images"].items()})
    asynchronous = body["async"] or prefers_async(request)
    webhook_url = await _single_call_webhook(request, body, asynchronous)
    plan = Plan(name, bindings=dict(body["inputs"]))
    note_audit(request, f"workflow.{name}", images.values(), body["inputs"])
    if asynchronous:
        return await start_job(request, f"workflow:{name}", plan, [images], hashlib.sha256(raw).hexdigest(),
                               webhook_url=webhook_url)
    job = await _run_now(request, f"workflow:{name}", plan, images)
    return await _result_response(request, job)


async def _run_now(request: web.Request, operation: str, plan: Plan, images: dict[str, bytes]) -> Job:
    """Run a one-item job and wait for it (taking one of the key's concurrent-job slots meanwhile)."""
    dispatcher = request.app[DISPATCHER]
    async with _job_slot(request):
        job, _ = await _submit(request, operation, plan, [images], admit=lambda: charge(request, 1))
        return await dispatcher.wait(job)


# --- batches and jobs -----------------------------------------------------------------------------

@routes.post("/api/batch/process", name="batch.process")
@documented("Start a batch job", lambda settings: (
                f"Up to {settings.server.batch_max_images} images, one item each; answers 202 with the job. "
                "Each image costs one rate-limit unit. An `Idempotency-Key` header makes retries safe: the same "
                "key and body return the first job (200)."),
            tag="jobs", body=lambda settings: schemas.batch_request(settings.server.batch_max_images),
            answer="the job, queued", answer_schema=ref("Job"), status=202,
            errors=(400, 401, 403, 409, 413, 429, 503), scope="batch")
@rate_cost(AT_ADMISSION)  # one unit per image
async def batch_process(request: web.Request) -> web.Response:
    require_scope(request, "batch")
    settings = request.app[SETTINGS]
    body, raw = await _read_body(request, schemas.batch_request(settings.server.batch_max_images))
    operation = OPERATIONS[body["operation"]]
    require_scope(request, operation.scope)
    _check_enabled(request, operation)
    parameters = schemas.validate(schemas.object_schema(schemas.BATCH_OPERATIONS[operation.name]),
                                  body["parameters"], "body.parameters")
    webhook_url = await checked_webhook_url(request, body.get("webhook_url"))
    items = await asyncio.to_thread(lambda: [
        {"image": schemas.decode_image(text, f"images_base64.{index}")}
        for index, text in enumerate(body["images_base64"])])
    note_audit(request, f"batch.{operation.name}", [item["image"] for item in items], parameters)
    return await start_job(request, operation.name, operation.plan(parameters), items,
                            hashlib.sha256(raw).hexdigest(), webhook_url=webhook_url)


async def start_job(request: web.Request, operation: str, plan: Plan, items: list[dict[str, bytes | Path]],
                     request_hash: str, cost: int | None = None, webhook_url: str | None = None) -> web.Response:
    """Queue a job and answer 202 at once with its ``Location``; the key's job slot is held until the job ends.

    Admitting it costs ``cost`` rate-limit units, by default one per item. ``webhook_url`` (checked by
    ``checked_webhook_url``) is told when the job ends.
    """
    slot = _job_slot(request)
    try:
        job, created = await _submit(request, operation, plan, items,
                                     idempotency_key=request.headers.get("Idempotency-Key"),
                                     request_hash=request_hash, webhook_url=webhook_url,
                                     admit=lambda: charge(request, len(items) if cost is None else cost))
    except BaseException:
        slot.release()
        raise
    if created:
        request.app[DISPATCHER].on_finished(job.id, slot.release)
    else:
        slot.release()
    location = f"/api/jobs/{job.id}"
    headers = {"Location": location, **({"Preference-Applied": "respond-async"} if prefers_async(request) else {})}
    return web.json_response(
        {**job.to_dict(), "links": {"self": location, "events": f"{location}/events",
                                    "download": f"{location}/download"}},
        status=202 if created else 200, headers=headers)


@routes.get("/api/jobs/{job_id}", name="jobs.get")
@documented("Job state and results", "Poll a job. `?include_images=true` embeds result images as base64. A job "
            "with a `webhook_url` also lists its `webhooks`: each event's delivery, attempts (HTTP status, error, "
            "the answer's first kB) and next try.",
            tag="jobs", answer="the job", answer_schema=ref("Job"), errors=(404,), scope="jobs:read")
@rate_cost(0)  # polling is free: the work was paid for when the job was submitted
async def get_job(request: web.Request) -> web.Response:
    job = await _owned_job(request)
    with_images = request.query.get("include_images", "false").lower() in ("1", "true", "yes")
    return web.json_response(await asyncio.to_thread(_job_with_results, request.app[DISPATCHER], job, with_images))


@routes.delete("/api/jobs/{job_id}", name="jobs.cancel")
@documented("Cancel a job", "Queued items are cancelled, running ones stop at their next step.", tag="jobs",
            answer="the job", answer_schema=ref("Job"), errors=(404,), scope="jobs:read")
@rate_cost(0)
async def cancel_job(request: web.Request) -> web.Response:
    job = await _owned_job(request)
    if not job.finished:
        job = await request.app[DISPATCHER].cancel(job)
    return web.json_response(job.to_dict())


@routes.get("/api/jobs/{job_id}/events", name="jobs.events")
@documented("Follow a job (Server-Sent Events)",
            "Events: `job` (current state), `item` ({index, state, error?}), `progress` ({index, node_id, "
            "nodes_done, nodes_total, value, max}; for a video job {index, frames_done, frames_total, fps, value, "
            "max}), `done` (the final job).", tag="jobs", answer="text/event-stream", errors=(404,),
            scope="jobs:read")
@rate_cost(0)
async def job_events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: "job" (the current state), then "item" / "progress", then "done"."""
    job = await _owned_job(request)
    dispatcher = request.app[DISPATCHER]
    queue = dispatcher.listeners.listen(job.id)  # before re-reading the job, so that no event falls in between
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    try:
        job = await asyncio.to_thread(dispatcher.store.get, job.id)
        await _send_event(response, "job", job.to_dict())
        if job.finished or not dispatcher.is_active(job.id):
            await _send_event(response, "done", job.to_dict())
            return response
        while True:
            try:
                entry = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_SECONDS)
            except asyncio.TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if entry is None:
                break
            await _send_event(response, *entry)
    finally:
        dispatcher.listeners.unlisten(job.id, queue)
    return response


async def _send_event(response: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())


@routes.get("/api/jobs/{job_id}/download", name="jobs.download")
@documented("Download a finished job", "A zip: job.json plus item-<index>/output/<file> for every result image. "
            "A video job: its MP4 (409 `no_result` when it failed or was cancelled).", tag="jobs",
            answer="application/zip, or video/mp4 for a video job", errors=(404, 409), scope="jobs:read")
async def download_job(request: web.Request) -> web.StreamResponse:
    """A zip of the job's results; for a video job, its video (streamed from disk)."""
    job = await _owned_job(request)
    if not job.finished:
        raise ApiError(409, "job_not_finished", f"job {job.id} is {job.state}; download it once it has finished")
    if job.operation in VIDEO_OUTPUT_OPERATIONS:
        return video_download(request.app[DISPATCHER].store, job)
    archive = await asyncio.to_thread(_zip_results, request.app[DISPATCHER], job)
    return web.Response(body=archive, content_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="playalter-{job.id}.zip"'})


# --- helpers --------------------------------------------------------------------------------------

async def _read_body(request: web.Request, schema: dict) -> tuple[dict[str, Any], bytes]:
    """(the JSON body checked against ``schema``, defaults filled in; the raw bytes).

    413 past security.max_body_mb (at once when Content-Length says so, not after waiting for a body that may
    never come); 400 when it is not JSON, is nested too deeply or does not fit ``schema``.
    """
    if request.content_length is not None and request.content_length > request.client_max_size:
        raise web.HTTPRequestEntityTooLarge(max_size=request.client_max_size, actual_size=request.content_length)
    raw = await request.read()
    return await asyncio.to_thread(lambda: schemas.validate(schema, schemas.parse_json(raw))), raw


def _check_enabled(request: web.Request, operation: Operation) -> None:
    if not getattr(request.app[SETTINGS], operation.switch):
        raise ApiError(403, "feature_disabled",
                       f"this server has '{operation.name}' turned off (setting {operation.switch})")


def note_audit(request: web.Request, operation: str, images, parameters: dict[str, Any]) -> None:
    note = request.get(AUDIT_NOTE)
    if note is None:
        return
    note.operation = operation
    for data in images:
        note.add_input(data)
    note.parameters.update(parameters)


def _key_id(request: web.Request) -> str | None:
    principal = request.get(PRINCIPAL)
    return principal.key_id if principal is not None else None


def _job_slot(request: web.Request):
    return request.app[LIMITER].job_slot(request[PRINCIPAL])


async def _submit(request: web.Request, operation: str, plan: Plan, items: list[dict[str, bytes]],
                  **options: Any) -> tuple[Job, bool]:
    try:
        return await request.app[DISPATCHER].submit(key_id=_key_id(request), operation=operation, plan=plan,
                                                    item_images=items, **options)
    except QueueFull as full:
        raise ApiError(503, "queue_full", f"the server is busy ({full}); retry later",
                       headers={"Retry-After": str(full.retry_after)}) from None


async def _owned_job(request: web.Request) -> Job:
    """The job named in the path, if the caller's key created it (admins see every job); else 404."""
    require_scope(request, "jobs:read")
    job_id = request.match_info["job_id"]
    job = await asyncio.to_thread(request.app[DISPATCHER].store.get, job_id)
    principal = request[PRINCIPAL]
    if job is None or (job.key_id != principal.key_id and not principal.has_scope("admin")):
        raise ApiError(404, "job_not_found", f"no job {excerpt(job_id)} (it may have expired)")
    return job


async def _result_response(request: web.Request, job: Job,
                           answer: Callable[[dict], dict] | None = None) -> web.Response:
    """A finished one-item job -> 200 with its images (base64) and JSON outputs (reshaped by the operation's
    ``answer``), or its error."""
    item = job.items[0]
    if item.state != "completed":
        error = item.error or {"code": "failed", "message": "processing failed"}
        fault = answer_for_code(error["code"])  # a full disk or a database outage: retry later
        if fault is not None:
            raise ApiError(fault.status, fault.code, error["message"], details={"job_id": job.id},
                           headers=fault.headers)
        raise ApiError(_FAILURE_STATUS.get(error["code"], 500), error["code"], error["message"],
                       details={"job_id": job.id, **(error.get("details") or {})})
    result = await asyncio.to_thread(_item_result, request.app[DISPATCHER], item, True)
    if answer is not None:
        result = answer(result)
    return web.json_response({"job_id": job.id, "workflow": job.workflow, **result})


def _item_result(dispatcher: Dispatcher, item, with_images: bool) -> dict[str, Any]:
    folder = dispatcher.store.item_dir(item.job_id, item.index)
    images = []
    for image in item.result["images"]:
        entry = {key: image[key] for key in ("node", "title", "filename")}
        if with_images:
            entry["content_type"] = _content_type(image["filename"])
            entry["base64"] = base64.b64encode((folder / image["file"]).read_bytes()).decode("ascii")
        images.append(entry)
    result = {"seconds": item.result["seconds"], "images": images, "json": item.result["json"]}
    if "video" in item.result:
        result["video"] = {key: item.result["video"][key] for key in VIDEO_RESULT_FIELDS}
    return result


def _job_with_results(dispatcher: Dispatcher, job: Job, with_images: bool) -> dict[str, Any]:
    """The job's state with each completed item's result, reshaped as the operation's single-call answers are."""
    summary = job.to_dict()
    answer = job_answer(job.operation)
    for entry, item in zip(summary["items"], job.items):
        if item.state == "completed":
            entry["result"] = answer(_item_result(dispatcher, item, with_images))
    if job.webhook_url:
        summary["webhooks"] = deliveries.for_job(dispatcher.store.db, job.id)
    return summary


def _zip_results(dispatcher: Dispatcher, job: Job) -> bytes:
    """job.json (states, errors, JSON outputs) plus every result image as item-<index>/output/<file>."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("job.json", json.dumps(_job_with_results(dispatcher, job, False), indent=2))
        for item in job.items:
            if item.state != "completed":
                continue
            folder = dispatcher.store.item_dir(job.id, item.index)
            for image in item.result["images"]:
                archive.write(folder / image["file"], f"item-{item.index}/{image['file']}",
                              compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def _content_type(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}.get(
        suffix, "application/octet-stream")
