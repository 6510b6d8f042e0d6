"""One person measured over several photos or a video's frames, fused: two direct runs (``item_runs.DirectRun``).

- ``POST /api/face/analyze`` with ``images_base64`` and ``fuse`` (job workflow ``face_analysis_fused``): the
  photos, each named by its request field;
- ``POST /api/video/analyze`` (operation ``video.analyze``): frames sampled evenly over the uploaded video
  (``pipelines.video.measurement_frames``), with ``progress`` events as they are measured.

Not saved workflows: a workflow's image input is one photo, and photos of different sizes make no IMAGE
batch. Both do what the Face Measurements node does with ``fuse`` (``pipelines.engine.measurement_fusion``)
and answer in the analysis workflows' shape: the face report under the title "analysis" (one face record, on
the reference photo or frame, its measurements fused) and, with include_sheet, the measurement sheet titled
"sheet".
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ....pipelines.core.errors import ImageValidationError, VideoCancelledError
from ....pipelines.engine.face_report import face_record
from ....pipelines.engine.measurement_fusion import Frame, fuse_frames, photo_frame
from ....pipelines.engine.measurement_sheet import draw_measurement_sheet
from ....pipelines.images import encode_png, load_image
from ....pipelines.video.measurement_frames import measurement_frames
from ...engine.executor import WorkflowCancelled
from .item_runs import DirectRun
from .video_jobs import FrameProgress

FUSED_ANALYSIS = "face_analysis_fused"  # the photos' job workflow name
VIDEO_ANALYZE = "video.analyze"  # the video's job operation and workflow name
REPORT_TITLE, SHEET_TITLE = "analysis", "sheet"  # as in the saved analysis workflows


def _frames(inputs: dict[str, Path], cancel_event: threading.Event) -> list[Frame]:
    """The largest face of each input photo ("image 0", "image 1", ... in order), named by its request field."""
    frames = []
    for index in range(len(inputs)):
        if cancel_event.is_set():
            raise WorkflowCancelled()
        name = f"images_base64.{index}"
        try:
            image = load_image(inputs[f"image {index}"].read_bytes())  # uint8 [H,W,3] RGB, validated; as bytes, a
            # refusal names "the uploaded image", not the job's input file ("1.bin")
        except ImageValidationError as error:
            raise ImageValidationError(f"{name}: {error}") from None
        frames.append(photo_frame(image, name))
    return frames


def run(plan: dict[str, Any], inputs: dict[str, Path], item_dir: Path, *, cancel_event: threading.Event,
        on_progress) -> dict[str, Any]:
    """Measure and fuse the photos; the item's result (report, and the sheet PNG under item_dir/output)."""
    started = time.perf_counter()
    return _fused_result(_frames(inputs, cancel_event), plan["bindings"], item_dir, started)


def run_video(plan: dict[str, Any], inputs: dict[str, Path], item_dir: Path, *, cancel_event: threading.Event,
              on_progress) -> dict[str, Any]:
    """Measure the video's sampled frames and fuse them; the item's result as ``run``'s. A sampled frame
    without a measurable face is skipped (the report's ``fusion.sampled`` counts them all)."""
    started = time.perf_counter()
    options = plan["bindings"]
    try:
        frames, sampled = measurement_frames(inputs["video"], options["frames"], FrameProgress(on_progress, started),
                                             cancel_event.is_set)
    except VideoCancelledError:
        raise WorkflowCancelled() from None
    return _fused_result(frames, options, item_dir, started, sampled)


def _fused_result(frames: list[Frame], options: dict[str, Any], item_dir: Path, started: float,
                  sampled: int | None = None) -> dict[str, Any]:
    fused = fuse_frames(frames, options["scale"], options.get("identity_model", "auto"))
    if sampled is not None:
        fused["fusion"]["sampled"] = sampled
    names = [frame.name for frame in frames]
    index = names.index(fused["fusion"]["reference_frame"])
    reference = frames[index]
    record = face_record(reference.face, 0, index, fused if options["include_measurements"] else None,
                         options["include_landmarks"],
                         options["mesh_format"] if options["include_3d_mesh"] else "none")
    images = []
    if options["include_sheet"]:
        output = item_dir / "output"
        output.mkdir(parents=True, exist_ok=True)
        sheet = output / "fused_sheet.png"
        sheet.write_bytes(encode_png(draw_measurement_sheet(reference.image, [reference.face], [fused])))
        images.append({"node": None, "title": SHEET_TITLE, "filename": sheet.name,
                       "file": sheet.relative_to(item_dir).as_posix()})
    return {"seconds": round(time.perf_counter() - started, 3), "images": images,
            "json": [{"node": None, "title": REPORT_TITLE, "data": {"faces": [record]}}]}


def direct_runs(settings) -> dict[str, DirectRun]:
    """The photos under the server's job time limit, the video under the video jobs' limit."""
    return {FUSED_ANALYSIS: DirectRun(run, float(settings.server.job_timeout_seconds)),
            VIDEO_ANALYZE: DirectRun(run_video, float(settings.video.job_timeout_seconds))}
