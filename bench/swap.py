"""Per-face swap latency at 1920x1080: classical path, InSwapper path (generated stand-in model, so
everything but the network itself), and the blending stage alone.

Baseline, measured in the same process: the full-frame paste-back that insightface's
``INSwapper.get(paste_back=True)`` does (warp the 128-px result, a white mask and a difference
map to the whole frame, erode, blur and composite at full resolution).

Run: python bench/swap.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the stand-in model builder lives with the tests

from playalter.pipelines.engine import align
from playalter.pipelines.engine.detection import detect_faces  # noqa: E402
from playalter.pipelines.swap import classical, inswapper  # noqa: E402
from playalter.pipelines.swap.blend import BlendOptions, blend  # noqa: E402
from swap_models import build_inswapper  # noqa: E402


def full_hd_frame() -> np.ndarray:
    """t1.jpg scaled to 1080 rows and centred on a 1920x1080 canvas, uint8 RGB."""
    import importlib.util

    package = Path(importlib.util.find_spec("insightface").origin).parent
    bgr = cv2.imread(str(package / "data" / "images" / "t1.jpg"))
    scaled = cv2.resize(bgr, (round(bgr.shape[1] * 1080 / bgr.shape[0]), 1080), interpolation=cv2.INTER_CUBIC)
    canvas = np.zeros((1080, 1920, 3), np.uint8)
    left = (1920 - scaled.shape[1]) // 2
    canvas[:, left:left + scaled.shape[1]] = scaled
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)


def full_frame_paste(image: np.ndarray, swapped: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The baseline: insightface-style paste-back computed over the whole frame."""
    aligned = cv2.warpAffine(image, matrix, (128, 128))
    difference = np.abs(swapped.astype(np.float32) - aligned.astype(np.float32)).mean(axis=2)
    inverse = cv2.invertAffineTransform(matrix)
    size = (image.shape[1], image.shape[0])
    fake = cv2.warpAffine(swapped, inverse, size, borderValue=0.0)
    white = cv2.warpAffine(np.full((128, 128), 255, np.float32), inverse, size, borderValue=0.0)
    cv2.warpAffine(difference, inverse, size, borderValue=0.0)
    white[white > 20] = 255
    rows, cols = np.where(white == 255)
    mask_size = int(np.sqrt((rows.max() - rows.min()) * (cols.max() - cols.min())))
    white = cv2.erode(white, np.ones((max(mask_size // 10, 10),) * 2, np.uint8))
    blur = 2 * max(mask_size // 20, 5) + 1
    alpha = cv2.GaussianBlur(white, (blur, blur), 0)[..., None] / 255.0
    return (alpha * fake + (1 - alpha) * image.astype(np.float32)).astype(np.uint8)


def timed_ms(function, repeats: int) -> tuple[float, float]:
    """(median, best) milliseconds; the best run is the steadier figure on a shared machine."""
    function()  # warm-up (session creation, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    frame = full_hd_frame()  # [1080,1920,3]
    faces = detect_faces(frame, order="largest")
    source, target = faces[1], faces[0]
    embedding = np.random.default_rng(0).normal(size=512).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(folder) / "inswapper_128.onnx"
        build_inswapper(model_path)
        swapper = inswapper.load(model_path)

        default = BlendOptions()
        aligned, matrix = align.crop(frame, target.kps, 128)
        swapped = inswapper.run(swapper, aligned, inswapper.source_latent(embedding, swapper.emap))
        insw_patch = inswapper.paste(swapped, matrix, frame, target)
        classical_patch = classical.swap(frame, source, frame, target)

        rows = [
            ("baseline: full-frame paste-back (insightface style)",
             timed_ms(lambda: full_frame_paste(frame, swapped, matrix), args.repeats)),
            ("inswapper path: align + stand-in net + paste + blend",
             timed_ms(lambda: blend(frame, inswapper.swap(swapper, frame, target, embedding), target, default),
                       args.repeats)),
            ("  of which paste-back into the face region",
             timed_ms(lambda: inswapper.paste(swapped, matrix, frame, target), args.repeats)),
            ("classical path: triangulated warp + blend",
             timed_ms(lambda: blend(frame, classical.swap(frame, source, frame, target), target, default),
                       args.repeats)),
            ("  of which the warp",
             timed_ms(lambda: classical.swap(frame, source, frame, target), args.repeats)),
            ("blend alone: default (LAB, feather, occlusion, sharpen)",
             timed_ms(lambda: blend(frame, insw_patch, target, default), args.repeats)),
            ("blend alone: histogram colour",
             timed_ms(lambda: blend(frame, insw_patch, target, BlendOptions(color="histogram")), args.repeats)),
            ("blend alone: Poisson",
             timed_ms(lambda: blend(frame, classical_patch, target, BlendOptions(mode="poisson")), args.repeats)),
            ("blend alone: no occlusion test",
             timed_ms(lambda: blend(frame, insw_patch, target, BlendOptions(occlusion=False)), args.repeats)),
            ("blend alone: + denoise 0.5",
             timed_ms(lambda: blend(frame, insw_patch, target, BlendOptions(denoise=0.5)), args.repeats)),
        ]
    baseline_median, baseline_best = rows[0][1]  # the full-frame paste-back
    print(f"1920x1080 frame, target face {target.size:.0f} px, {args.repeats} runs, "
          f"{cv2.getNumThreads()} OpenCV threads; ms per face")
    print(f"{'stage':58s} {'median':>8s} {'best':>8s} {'x baseline':>11s} {'(best)':>7s}")
    for name, (median, best) in rows:
        print(f"{name:58s} {median:8.2f} {best:8.2f} {median / baseline_median:11.2f} {best / baseline_best:7.2f}")


if __name__ == "__main__":
    main()
