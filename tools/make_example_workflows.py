"""Write example_workflows/: the templates ComfyUI's editor lists for this pack, each with its thumbnail.

    python tools/make_example_workflows.py

ComfyUI's template browser (its ``/workflow_templates`` route) lists ``<pack>/example_workflows/*.json`` and
shows ``<name>.jpg`` beside each. A template is a copy of ``workflows/ui/<name>.json``, one per capability
(``TEMPLATES``; tests/test_example_workflows.py keeps the copies identical). Its thumbnail is the first image
the workflow saves when the runner runs it here on insightface's ``t1.jpg`` (scikit-image's astronaut, a NASA
photo in the public domain, is the swap's source face; the video workflow gets a short clip of ``t1.jpg``),
scaled to ``THUMBNAIL_SIDE`` px. Needs the MediaPipe models (``playalter models fetch face_mesh iris``).
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
UI_DIR = REPO / "workflows" / "ui"
TEMPLATE_DIR = REPO / "example_workflows"
THUMBNAIL_SIDE = 384
THUMBNAIL_QUALITY = 80
# one workflow per capability; face_analysis (FLAME fit) is left out: FLAME is licence-gated, so it cannot run
# here to make its thumbnail
TEMPLATES = ("detect_faces", "face_analysis_dense", "face_measurements_landmarks", "privacy_blur",
             "privacy_audit", "privacy_video", "face_swap", "swap_compatibility")
VIDEO_FRAMES = 6


def sample_photo() -> Path:
    """insightface's group photo (six people at a table)."""
    spec = importlib.util.find_spec("insightface")
    if spec is None or spec.origin is None:
        raise SystemExit("insightface is not installed: pip install --no-deps insightface")
    return Path(spec.origin).parent / "data" / "images" / "t1.jpg"


def astronaut_png() -> bytes:
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="PNG")
    return buffer.getvalue()


def write_clip(photo: Path, path: Path) -> Path:
    """A still H.264 clip of ``photo``: VIDEO_FRAMES frames at 6 fps, its sides cut to even numbers."""
    pixels = np.asarray(Image.open(photo).convert("RGB"))  # [H,W,3] uint8
    pixels = np.ascontiguousarray(pixels[: pixels.shape[0] // 2 * 2, : pixels.shape[1] // 2 * 2])
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=6)
        stream.height, stream.width, stream.pix_fmt = pixels.shape[0], pixels.shape[1], "yuv420p"
        for index in range(VIDEO_FRAMES):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def bindings(name: str, photo: Path, work: Path) -> dict:
    if name in ("face_swap", "swap_compatibility"):
        return {"source": astronaut_png(), "target": photo}
    if name == "privacy_video":
        return {"video": write_clip(photo, work / "clip.mp4")}
    return {"image": photo}


def first_picture(outputs: dict) -> Image.Image:
    """The first image a run saved, or the first frame of the video it saved."""
    for entry in outputs.values():
        for ref in entry["images"]:
            if Path(ref.path).suffix != ".mp4":
                return Image.open(ref.path).convert("RGB")
            with av.open(str(ref.path)) as container:
                return next(container.decode(video=0)).to_image()
    raise SystemExit("the workflow saved no image and no video")


def thumbnail(picture: Image.Image) -> bytes:
    picture.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue()


def copy_templates() -> None:
    """example_workflows/<name>.json as a copy of workflows/ui/<name>.json for each of TEMPLATES; other files go."""
    TEMPLATE_DIR.mkdir(exist_ok=True)
    for stale in TEMPLATE_DIR.iterdir():
        if stale.stem not in TEMPLATES:
            stale.unlink()
    for name in TEMPLATES:
        shutil.copyfile(UI_DIR / f"{name}.json", TEMPLATE_DIR / f"{name}.json")


def make_thumbnails() -> None:
    """example_workflows/<name>.jpg: each template's API twin run on the sample photo, its first picture."""
    from playalter.runner.engine.executor import execute

    photo = sample_photo()
    for name in TEMPLATES:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            result = execute(REPO / "workflows" / "api" / f"{name}.json", bindings=bindings(name, photo, work),
                             input_dir=work, output_dir=work / "output", temp_dir=work / "temp")
            (TEMPLATE_DIR / f"{name}.jpg").write_bytes(thumbnail(first_picture(result.outputs)))
        print(f"{name}: {(TEMPLATE_DIR / f'{name}.jpg').stat().st_size // 1024} kB thumbnail")


if __name__ == "__main__":
    copy_templates()
    make_thumbnails()
