"""``POST /api/face/analyze`` with ``images_base64`` and ``fuse``: one person's photos measured together.

A direct run (``item_runs.DirectRun``), not a saved workflow: a workflow's image input is one photo, and
photos of different sizes make no IMAGE batch. It does what the Face Measurements node does with
``fuse`` (``pipelines.engine.measurement_fusion``) and answers in the analysis workflows' shape: the face
report under the title "analysis" (one face record, on the reference photo, its measurements fused) and,
with include_sheet, the measurement sheet titled "sheet".
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ....pipelines.core.errors import ImageValidationError, NoFaceError
from ....pipelines.engine.detection import detect_faces
from ....pipelines.engine.face_report import face_record
from ....pipelines.engine.measurement_fusion import Frame, fuse_frames
from ....pipelines.engine.measurement_sheet import draw_measurement_sheet
from ....pipelines.images import encode_png, load_image
from ...engine.executor import WorkflowCancelled
from .item_runs import DirectRun

FUSED_ANALYSIS = "face_analysis_fused"  # the job's workflow name
REPORT_TITLE, SHEET_TITLE = "analysis", "sheet"  # as in the saved analysis workflows


def _frames(inputs: dict[str, Path], cancel_event: threading.Event) -> list[Frame]:
    """The largest face of each input photo ("image 0", "image 1", ... in order), named by its request field."""
    frames = []
    for index in range(len(inputs)):
        if cancel_event.is_set():
            raise WorkflowCancelled()
        name = f"images_base64.{index}"
        try:
            image = load_image(inputs[f"image {index}"])  # uint8 [H,W,3] RGB, validated
        except ImageValidationError as error:
            raise ImageValidationError(f"{name}: {error}") from None
        faces = detect_faces(image, dense=True)
        if not faces:
            raise NoFaceError(f"{name}: no face was found; every photo to fuse must show the person")
        frames.append(Frame(image, faces[0], name))
    return frames


def run(plan: dict[str, Any], inputs: dict[str, Path], item_dir: Path, *, cancel_event: threading.Event,
        on_progress) -> dict[str, Any]:
    """Measure and fuse the photos; the item's result (report, and the sheet PNG under item_dir/output)."""
    started = time.perf_counter()
    options = plan["bindings"]
    frames = _frames(inputs, cancel_event)
    fused = fuse_frames(frames, options["scale"])
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
    """The fused analysis under the server's job time limit."""
    return {FUSED_ANALYSIS: DirectRun(run, float(settings.server.job_timeout_seconds))}
