"""The video job endpoints: ``POST /api/video/anonymize``, ``/api/video/swap`` and ``/api/video/analyze``.

The request is ``multipart/form-data``: the video file (part ``video``), for a
swap the source face photo (part ``source``), for an anonymisation or a swap optionally
a photo of a person (part ``reference``: the person kept visible or hidden alone with the
option ``people``, the person whose tracks a swap replaces), and the options as JSON text
(part ``options``, checked against ``schemas.VIDEO_*_OPTIONS``). ``source`` and
``reference`` may also be saved identity files (ours or a ReActor face model),
told apart from photos by their content. The video is
streamed to disk under the job store's staging folder as it arrives, never
held in memory, and refused (413) once it passes ``video.max_upload_mb``.
It is then probed: a file PyAV cannot decode is 422 ``invalid_video``, one
longer than ``video.max_duration_seconds`` 422 ``video_too_long``. Only then
is the job admitted and charged, one rate-limit unit per started
``video.seconds_per_unit`` seconds of video, and answered 202 like a batch
job; the dispatcher runs it with the streaming pipeline (``video_jobs.py``), or
for an analysis measures sampled frames and fuses them (``fused_analysis.py``).
A ``webhook_url`` in the options is told when it ends (it is not one of the
pipeline's options, nor in the audit row).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from .. import schemas
from ..errors import ApiError
from ..jobs.dispatcher import DISPATCHER
from ..jobs.operations import Plan
from ..jobs.runs import public_text
from ..jobs.fused_analysis import VIDEO_ANALYZE
from ..jobs.video_jobs import ANONYMIZE, SWAP
from ..response_schemas import ref
from ..route_docs import Upload, documented
from ..security.context import PRINCIPAL
from ..security.ratelimit import AT_ADMISSION, LIMITER, rate_cost
from ..state import SETTINGS
from .audit import AUDIT_NOTE
from .auth import require_scope
from .endpoints import note_audit, start_job
from .webhooks import checked_webhook_url

routes = web.RouteTableDef()

MEGABYTE = 1 << 20
CHUNK_BYTES = 1 << 20  # written to disk one mebibyte at a time, on a helper thread
MAX_OPTIONS_BYTES = 64 * 1024
MULTIPART_OVERHEAD_BYTES = 1 << 20  # part headers, the options and a source photo, on top of the video
VIDEO_PART = "the video (mp4, mov, mkv, webm, avi), streamed to disk"
SOURCE_PART = "a photo of the source face, or a saved ArcFace identity file (ours or a ReActor face model)"
REFERENCE_PART = ("optional: a photo of a person (its largest face) or a saved identity file (.json / .npz / a "
                  "ReActor face model .safetensors): see the option people / target_tracks")
VIDEO_JOB_ERRORS = (400, 401, 403, 409, 413, 415, 422, 429, 503)


def _described_with_limits(description: str, result: str = "/download sends the MP4."):
    """The operation's description followed by the video limits and cost of ``settings``, and where its
    ``result`` is."""
    return lambda settings: (
        f"{description} Limits: {settings.video.max_upload_mb:g} MB (413 `video_too_large`), "
        f"{settings.video.max_duration_seconds:g} s (422 `video_too_long`); an undecodable file is 422 "
        f"`invalid_video`. Costs one rate-limit unit per started {settings.video.seconds_per_unit:g} s of "
        f"video. Follow the job with /api/jobs/{{id}} and its events; {result}")


@routes.post("/api/video/anonymize", name="video.anonymize")
@documented("Anonymise the faces of a video (job)", _described_with_limits(
                "Streams the video through the tracker and masker, keeping the audio, rotation and frame timing; "
                "answers 202 with the job."),
            tag="video", upload=Upload({"video": VIDEO_PART, "reference": REFERENCE_PART},
                                       schemas.VIDEO_ANONYMIZE_OPTIONS),
            answer="the job, queued", answer_schema=ref("Job"), status=202, errors=VIDEO_JOB_ERRORS,
            scope="privacy:mask")
@rate_cost(AT_ADMISSION)  # one unit per started video.seconds_per_unit seconds of video
async def video_anonymize(request: web.Request) -> web.Response:
    return await _video_job(request, ANONYMIZE, "privacy:mask", "enable_privacy",
                            schemas.VIDEO_ANONYMIZE_OPTIONS, ("video",))


@routes.post("/api/video/swap", name="video.swap")
@documented("Swap a face into a video (job)", _described_with_limits(
                "The face of the source photo onto the chosen tracked faces of every frame, the audio kept; "
                "answers 202 with the job."),
            tag="video", upload=Upload({"video": VIDEO_PART, "source": SOURCE_PART, "reference": REFERENCE_PART},
                                       schemas.VIDEO_SWAP_OPTIONS),
            answer="the job, queued", answer_schema=ref("Job"), status=202, errors=VIDEO_JOB_ERRORS,
            scope="face:swap")
@rate_cost(AT_ADMISSION)
async def video_swap(request: web.Request) -> web.Response:
    return await _video_job(request, SWAP, "face:swap", "enable_face_swap", schemas.VIDEO_SWAP_OPTIONS,
                            ("video", "source"))


@routes.post("/api/video/analyze", name="video.analyze")
@documented("Measure one person over a video (job)", _described_with_limits(
                "Samples `frames` frames evenly over the video, measures the largest face of each (a frame "
                "without a measurable face is skipped) and fuses the measurements as `/api/face/analyze` does "
                "with `fuse`: one face record on the reference frame, each value with its spread, frames used "
                "and outliers. The job fails with `no_face` when no sampled frame shows a face, and with "
                "`invalid_parameter` when the frames show more than one person. Answers 202 with the job.",
                "the finished job's item result has `faces` (and `images`: the sheet with include_sheet); "
                "/download sends them as a zip."),
            tag="video", upload=Upload({"video": VIDEO_PART}, schemas.VIDEO_ANALYZE_OPTIONS),
            answer="the job, queued", answer_schema=ref("Job"), status=202, errors=VIDEO_JOB_ERRORS,
            scope="face:analyze")
@rate_cost(AT_ADMISSION)
async def video_analyze(request: web.Request) -> web.Response:
    return await _video_job(request, VIDEO_ANALYZE, "face:analyze", "enable_face_detection",
                            schemas.VIDEO_ANALYZE_OPTIONS, ("video",), optional=())


async def _video_job(request: web.Request, operation: str, scope: str, switch: str, schema: dict[str, Any],
                     files: tuple[str, ...], optional: tuple[str, ...] = ("reference",)) -> web.Response:
    require_scope(request, scope)
    settings = request.app[SETTINGS]
    if not getattr(settings, switch):
        raise ApiError(403, "feature_disabled", f"this server has '{operation}' turned off (setting {switch})")
    request.app[LIMITER].job_slot(request[PRINCIPAL]).release()  # 429 before a long upload, not after it
    staged: dict[str, Path] = {}
    try:
        options, digests = await _receive(request, schema, files, optional, staged)
        webhook_url = await checked_webhook_url(request, options.pop("webhook_url", None))
        info, duration = await _admit_video(request, staged["video"])
        if options.get("people", "everyone") != "everyone" and "reference" not in staged:
            raise ApiError(400, "invalid_request", f"people '{options['people']}' needs the form part reference: "
                                                   "a photo of the person")
        for part in ("source", "reference"):
            if part in staged:
                await _check_photo_or_identity(part, staged[part])
        cost = max(1, math.ceil(duration / float(settings.video.seconds_per_unit)))
        note_audit(request, operation, [], {**options, "video_frames": info.frames,
                                            "duration_seconds": round(duration, 3)})
        if (note := request.get(AUDIT_NOTE)) is not None:
            note.inputs.extend(digests)
        request_hash = hashlib.sha256(json.dumps([options, digests] + ([webhook_url] if webhook_url else []),
                                                 sort_keys=True).encode()).hexdigest()
        return await start_job(request, operation, Plan(operation, options), [staged], request_hash, cost=cost,
                               webhook_url=webhook_url)
    finally:  # moved into the job when it was created; otherwise not wanted any more
        for path in staged.values():
            path.unlink(missing_ok=True)


async def _receive(request: web.Request, schema: dict[str, Any], files: tuple[str, ...], optional: tuple[str, ...],
                   staged: dict[str, Path]) -> tuple[dict[str, Any], list[str]]:
    """Read the multipart body: (the checked options, the files' SHA-256 in ``files`` then ``optional`` order).

    Each file part is streamed into a staging file recorded in ``staged`` (the caller deletes them).
    """
    settings = request.app[SETTINGS]
    video_limit = int(settings.video.max_upload_mb * MEGABYTE)
    photo_limit = int(settings.security.max_file_size_mb * MEGABYTE)
    limits = {"video": video_limit, "source": photo_limit, "reference": photo_limit}
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type",
                       f"send the video as multipart/form-data with the part(s) {', '.join(files)} "
                       "and optionally options (JSON text)")
    if request.content_length is not None and request.content_length > video_limit + MULTIPART_OVERHEAD_BYTES:
        raise _too_large(settings)
    options_text: bytes | None = None
    digests: dict[str, str] = {}
    try:  # aiohttp's multipart reader raises ValueError or BadHttpMessage on a body it cannot parse
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name not in (*files, *optional, "options"):
                also = f" and optionally {', '.join(optional)}" if optional else ""
                raise ApiError(400, "invalid_request",
                               f"unexpected form part; send {', '.join(files)}, options{also}")
            if part.name in staged or (part.name == "options" and options_text is not None):
                raise ApiError(400, "invalid_request", f"the form part {part.name} was sent twice")
            if part.name == "options":
                options_text = await _read_small(part, MAX_OPTIONS_BYTES)
                continue
            staged[part.name] = request.app[DISPATCHER].store.staging_path()
            digests[part.name] = await _stream_to_file(part, staged[part.name], limits[part.name], settings)
    except (ValueError, BadHttpMessage):
        raise ApiError(400, "invalid_request", "the body is not well-formed multipart/form-data: its boundary is "
                       "missing or not found, a part's headers are malformed, or it ends inside a part") from None
    missing = [name for name in files if name not in staged]
    if missing:
        raise ApiError(400, "invalid_request", f"missing form part(s): {', '.join(missing)}")
    options = await asyncio.to_thread(
        lambda: schemas.validate(schema, schemas.parse_json(options_text) if options_text else {}, "options"))
    return options, [digests[name] for name in (*files, *optional) if name in digests]


async def _read_small(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, "options_too_large", f"the options part is larger than {limit // 1024} KB")
    return bytes(data)


async def _stream_to_file(part: BodyPartReader, path: Path, limit: int, settings) -> str:
    """Copy a file part to ``path`` (created 0600) chunk by chunk; return its SHA-256. 413 past ``limit``."""
    digest = hashlib.sha256()
    size = 0
    handle = await asyncio.to_thread(lambda: os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                                                        "wb"))
    try:
        buffer = bytearray()
        while chunk := await part.read_chunk(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise _too_large(settings) if part.name == "video" else ApiError(
                    413, "file_too_large", f"the {part.name} photo is larger than "
                    f"{settings.security.max_file_size_mb:g} MB (setting security.max_file_size_mb)")
            digest.update(chunk)
            buffer += chunk
            if len(buffer) >= CHUNK_BYTES:
                await asyncio.to_thread(handle.write, bytes(buffer))
                buffer.clear()
        await asyncio.to_thread(handle.write, bytes(buffer))
    finally:
        await asyncio.to_thread(handle.close)
    if size == 0:
        raise ApiError(400, "invalid_request", f"the form part {part.name} is empty")
    return digest.hexdigest()


def _too_large(settings) -> ApiError:
    return ApiError(413, "video_too_large", f"the video is larger than the limit of "
                    f"{settings.video.max_upload_mb:g} MB (setting video.max_upload_mb)")


async def _admit_video(request: web.Request, path: Path):
    """(the video's probe, its duration in seconds), or 422 when it cannot be decoded, is too long (or of
    unknown length) or has frames too large."""
    from ....pipelines.core.errors import PlayalterError
    from ....pipelines.video import probe

    settings = request.app[SETTINGS]
    try:
        info = await asyncio.to_thread(probe, path)
    except PlayalterError as error:
        raise ApiError(422, error.code, _as_sent(error, path, "video")) from None
    duration = info.duration if info.duration is not None else (
        info.frames / info.fps if info.frames and info.fps else None)
    if duration is None:
        raise ApiError(422, "invalid_video", "the video's container gives neither its duration nor its frame "
                       "count; remux it (e.g. ffmpeg -i in -c copy out.mp4) and send it again")
    if duration > settings.video.max_duration_seconds:
        raise ApiError(422, "video_too_long", f"the video lasts {duration:.1f} s, more than the limit of "
                       f"{settings.video.max_duration_seconds:g} s (setting video.max_duration_seconds)")
    if max(info.width, info.height) > settings.security.max_image_side:
        raise ApiError(422, "video_frame_too_large", f"the video's frames are {info.width}x{info.height}, larger "
                       f"than {settings.security.max_image_side} px (setting security.max_image_side)")
    return info, duration


async def _check_photo_or_identity(part: str, path: Path) -> None:
    """A readable photo, or a valid identity file (for the source: one a swap can use)."""
    from ....pipelines.core.errors import PlayalterError
    from ....pipelines.images import load_image
    from ....pipelines.swap import identity
    from ....pipelines.swap.pipeline import source_of_identity

    def check() -> None:
        saved = identity.load_if_identity(path)
        if saved is None:
            load_image(path)
        elif part == "source":
            source_of_identity(saved)

    try:
        await asyncio.to_thread(check)
    except PlayalterError as error:
        raise ApiError(422, error.code, f"{part}: {_as_sent(error, path, part)}") from None


def _as_sent(error: Exception, path: Path, part: str) -> str:
    """The error's message naming the upload as the client knows it (``the uploaded video``), not by the name of
    its staging file (``3f9c...part``), which means nothing to the client."""
    return public_text(str(error).replace(str(path), f"the uploaded {part}").replace(path.name, f"the uploaded {part}"))
