"""Privacy recall on a generated hard set: deface, PLAYALTER default and PLAYALTER thorough, one run.

    python bench/recall.py [--repeats 1]

The hard set (tests/privacy_hard_set.py) is made from real photos (the shared fixture faces, t1.jpg,
skimage's astronaut) pasted into 1920x1080 frames of skimage's coffee photo: two crowds of 20-80 px
faces, faces turned in the image plane by 30..270 degrees (120 px, and 30 px), motion blur, a dark low-contrast frame and a
crowd at JPEG quality 18.

Per frame and pipeline:
  pasted covered  pasted faces whose centre the pipeline masked (deface: inside its blurred ellipses)
  independent left  faces an independent detector finds in the input that it still finds, at the same
                  place (IoU >= 0.3), in the output. Independent: MTCNN from facenet-pytorch
                  (tests/mtcnn_judge.py, probability >= 0.9), neither the CenterFace that chooses the
                  masks nor the audit's BlazeFace; on the turned frames it also looks at the frame turned
                  by 90, 180 and 270 degrees (it finds upright faces only)
  ms              median wall time of detect + mask (audit off)

deface: ``CenterFace()`` at full resolution, threshold 0.2, ``anonymize_frame`` with its CLI defaults.
PLAYALTER: ``find_faces`` (PRIVACY_DETECTION, then thorough=True) + ``protect`` (blur, strength 1).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # import playalter from this checkout
sys.path.insert(0, str(ROOT / "tests"))  # the hard-set generator

import privacy_hard_set  # noqa: E402
from mtcnn_judge import MtcnnJudge  # noqa: E402
from privacy import deface_mask, deface_pass  # noqa: E402  (bench/privacy.py)

from playalter.pipelines.privacy import PrivacyOptions, protect  # noqa: E402
from playalter.pipelines.privacy.detection_settings import PRIVACY_DETECTION  # noqa: E402
from playalter.pipelines.privacy.finding import find_faces  # noqa: E402

OPTIONS = PrivacyOptions("blur", strength=1.0)


def covered(boxes: list[list[float]], mask: np.ndarray) -> int:
    return sum(bool(mask[int((y1 + y2) / 2), int((x1 + x2) / 2)]) for x1, y1, x2, y2 in boxes)


def with_deface_mask(image: np.ndarray, result) -> tuple[np.ndarray, np.ndarray]:
    """(output, where deface blurred) from deface_pass's (output, detections)."""
    output, dets = result
    return output, deface_mask(image.shape, dets)


def with_mask(result) -> tuple[np.ndarray, np.ndarray]:
    return result.image, result.mask > 0.5


def timed(run, repeats: int):
    walls, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), result


def frames(crops) -> dict[str, tuple[np.ndarray, list[list[float]]]]:
    hs = privacy_hard_set
    crowd_a = hs.crowd(crops, seed=0)
    crowd_b = hs.crowd(crops, sides=(22, 26, 30, 36, 44, 56), seed=1)
    medium = hs.crowd(crops, sides=(40, 60, 90), seed=2)
    turned = hs.rotated(crops)
    turned_small = hs.rotated(crops, angles=(90, 180, 270, 90, 180, 270, 135, 225), side=30)
    return {
        "crowd 20-80 px": crowd_a, "crowd 22-56 px": crowd_b, "rotations 30-270": turned,
        "30 px, turned 90-270": turned_small,
        "motion blur 15 px": (hs.motion_blur(medium[0]), medium[1]), "dark": (hs.dark(medium[0]), medium[1]),
        "crowd JPEG q18": (hs.jpeg(crowd_b[0]), crowd_b[1]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    from deface.centerface import CenterFace

    centerface = CenterFace(in_shape=None, backend="auto")
    thorough = replace(PRIVACY_DETECTION, thorough=True)
    pipelines = {
        "deface": lambda image: with_deface_mask(image, deface_pass(centerface, image)),
        "playalter default": lambda image: with_mask(protect(image, find_faces(image), OPTIONS)),
        "playalter thorough": lambda image: with_mask(protect(image, find_faces(image, thorough), OPTIONS)),
    }
    judge = MtcnnJudge()
    print(f"{'frame':<20} {'pipeline':<20} {'pasted covered':>15} {'independent left':>17} {'ms':>7}")
    totals = {name: [0, 0, 0, 0, 0.0] for name in pipelines}
    hard = frames(privacy_hard_set.face_crops())
    for frame_name, (image, boxes) in hard.items():
        turns = (0, 1, 2, 3) if "turned" in frame_name or "rotations" in frame_name else (0,)
        before = judge.boxes(image, turns)
        for name, run in pipelines.items():
            run(image)  # warm-up
            wall, (output, mask) = timed(lambda: run(image), args.repeats)
            hidden, remaining = covered(boxes, mask), len(judge.still_found(before, output, turns))
            total = totals[name]
            total[0] += hidden
            total[1] += len(boxes)
            total[2] += remaining
            total[3] += len(before)
            total[4] += wall
            print(f"{frame_name:<20} {name:<20} {f'{hidden}/{len(boxes)}':>15} {f'{remaining}/{len(before)}':>17} "
                  f"{wall * 1000:>7.0f}")
    for name, (hidden, pasted, remaining, found, wall) in totals.items():
        print(f"{'all (ms per image)':<20} {name:<20} {f'{hidden}/{pasted}':>15} {f'{remaining}/{found}':>17} "
              f"{wall * 1000 / len(hard):>7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
