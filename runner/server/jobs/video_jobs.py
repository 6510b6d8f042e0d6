"""Video jobs on the worker side: the streaming pipelines as the dispatcher's direct runs, and their download.

A video job has one item whose input is the uploaded file (binding ``video``,
plus ``source`` for a swap, and ``reference`` when a person is chosen by a
photo). It does not go through a saved workflow: a
workflow holds every frame in memory, the pipeline (``pipelines.video``)
streams them. Each attempt writes into its own hidden folder
``output/.attempt-<random>/`` (the pipeline there into a partial file, renamed
when complete), and the finished video is then renamed to ``output/<name>.mp4``;
the item's result names the file only once the item completed. So a cancelled,
failed or interrupted job never presents a half-written video, and an attempt
superseded on the job queue (its worker was taken for dead after the lease but
still runs) cannot write into the video of the attempt that took over: the new
attempt deletes the folders of earlier ones, whose writes then go nowhere. A
job resumed after a restart, or re-delivered to another worker, starts the video
again from its first frame.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from ....pipelines.core.config import Section
from ...engine.errors import WorkflowCancelled
from ..errors import ApiError
from .item_runs import DirectRun
from .store import Job, JobStore

ANONYMIZE = "video.anonymize"
SWAP = "video.swap"
VIDEO_OUTPUT_OPERATIONS = (ANONYMIZE, SWAP)  # jobs whose result is a video (video.analyze answers a report)
VIDEO_RESULT_FIELDS = ("filename", "content_type", "bytes")
REPORT_TITLE = "video report"
ATTEMPT_PREFIX = ".attempt-"  # output/.attempt-<random>/: where one attempt writes its video
PROGRESS_INTERVAL_SECONDS = 0.25  # progress events per video at most this often (the last one always)


def video_options(options: dict[str, Any]):
    from ....pipelines.video import VideoOptions

    return VideoOptions(crf=options["crf"], detect_every=options["detect_every"],
                        keep_lost_frames=options["keep_lost_frames"])


def _reference(options: dict[str, Any], inputs: dict[str, Path]):
    """The person of the ``reference`` part (a saved identity, or a photo: its largest face), or None."""
    if "reference" not in inputs:
        return None
    from ....pipelines.engine import embedding, reference
    from ....pipelines.images import load_image
    from ....pipelines.swap import identity

    saved = identity.load_if_identity(inputs["reference"])
    if saved is not None:
        return identity.reference_of([saved])

    space = embedding.resolve_space(options.get("identity_model", "auto"))
    return reference.from_photos([load_image(inputs["reference"])], space, labels=["reference photo"])


def _anonymize(options: dict[str, Any], inputs: dict[str, Path], target: Path,
               progress: Callable, cancelled: Callable[[], bool]) -> dict[str, Any]:
    from ....pipelines.privacy.request import privacy_request
    from ....pipelines.video import anonymize_video

    chosen = {**options, "reference": _reference(options, inputs) if options.get("people", "everyone") != "everyone"
              else None}
    request = privacy_request(chosen)  # the node's and the CLI's builder: the same options mean the same run
    return anonymize_video(inputs["video"], target, request.options, video_options(options),
                           progress=progress, cancelled=cancelled, run_audit=request.run_audit,
                           auto_strengthen=request.auto_strengthen, detection=request.detection,
                           people=request.people)


def _swap(options: dict[str, Any], inputs: dict[str, Path], target: Path,
          progress: Callable, cancelled: Callable[[], bool]) -> dict[str, Any]:
    from ....pipelines.images import load_image
    from ....pipelines.swap import identity
    from ....pipelines.swap.pipeline import source_of_identity, sources_from_faces
    from ....pipelines.swap.request import swap_request
    from ....pipelines.video import swap_video
    from ....pipelines.video.anonymize import detector

    swap_options = swap_request(options)  # the node's and the CLI's builder: the same options mean the same swap
    chosen = video_options(options)
    saved = identity.load_if_identity(inputs["source"])
    if saved is not None:
        source = source_of_identity(saved)
    else:
        photo = load_image(inputs["source"])
        [source] = sources_from_faces([photo], [detector(chosen)(photo)], str(options["source_face_index"]), False)
    tracks = ",".join(map(str, options["target_tracks"])) or "all"
    return swap_video(source, inputs["video"], target, swap_options=swap_options, video_options=chosen,
                      progress=progress, cancelled=cancelled, tracks=tracks, reference=_reference(options, inputs))


def _direct(pipeline: Callable, output_name: str) -> Callable[..., dict[str, Any]]:
    def run(plan: dict[str, Any], inputs: dict[str, Path], item_dir: Path, *, cancel_event: threading.Event,
            on_progress: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        output = item_dir / "output"
        output.mkdir(parents=True, exist_ok=True)
        for earlier in output.glob(f"{ATTEMPT_PREFIX}*"):  # of an attempt killed, or taken over after its lease
            shutil.rmtree(earlier, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix=ATTEMPT_PREFIX, dir=output))
        final = output / f"{output_name}.mp4"
        started = time.perf_counter()
        try:
            report = pipeline(plan["bindings"], inputs, scratch / final.name, FrameProgress(on_progress, started),
                              cancel_event.is_set)
            os.replace(scratch / final.name, final)
        except Exception:
            if cancel_event.is_set():
                raise WorkflowCancelled() from None
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return {"seconds": round(time.perf_counter() - started, 3), "images": [],
                "json": [{"node": None, "title": REPORT_TITLE, "data": report}],
                "video": {"file": final.relative_to(item_dir).as_posix(), "filename": final.name,
                          "content_type": "video/mp4", "bytes": final.stat().st_size}}

    return run


class FrameProgress:
    """The pipeline's ``progress(frames_done, frames_total or None)`` -> throttled ``progress`` events with fps."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], started: float):
        self.emit, self.started, self.last = emit, started, 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if done != total and now - self.last < PROGRESS_INTERVAL_SECONDS:
            return
        self.last = now
        fps = done / max(now - self.started, 1e-6)
        self.emit({"frames_done": done, "frames_total": total, "fps": round(fps, 2),
                   "value": done, "max": total})


def direct_runs(settings: Section) -> dict[str, DirectRun]:
    timeout = float(settings.video.job_timeout_seconds)
    return {ANONYMIZE: DirectRun(_direct(_anonymize, "anonymized"), timeout),
            SWAP: DirectRun(_direct(_swap, "swapped"), timeout)}


def video_download(store: JobStore, job: Job) -> web.FileResponse:
    """The finished video job's MP4, sent from disk; 409 when the job ended without one."""
    item = job.items[0]
    if item.state != "completed":
        error = item.error or job.error or {"code": job.state, "message": f"the job is {job.state}"}
        raise ApiError(409, "no_result", f"job {job.id} is {job.state} and has no video: {error['message']}")
    video = item.result["video"]
    return web.FileResponse(store.item_dir(job.id, item.index) / video["file"], headers={
        "Content-Type": video["content_type"],
        "Content-Disposition": f'attachment; filename="playalter-{job.id}.mp4"'})
