"""Write pipelines/data/centerface_int8_ranges.json: the activation ranges of the int8 CenterFace.

    python bench/centerface_int8_ranges.py

MinMax calibration (onnxruntime.quantization) of the prepared fp32 CenterFace
(pipelines/detection/centerface_int8.py) on real photos: insightface's t1.jpg, skimage's astronaut and
coffee, every third shared fixture face and the 1920x1080 crowd of tests/privacy_hard_set.py, each at full
size and, when longer than 640 px, at the 640 overview the privacy pass also runs. The file is
onnxruntime's calibration-cache JSON; run again (and commit the file) when the model or the recipe changes.
"""

from __future__ import annotations

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
from detection import read_rgb, t1_image  # noqa: E402  (bench/detection.py)

from playalter.pipelines.detection import centerface, centerface_int8  # noqa: E402

OVERVIEW = 640


def photos() -> list[np.ndarray]:
    from skimage import data

    found = [t1_image(), np.ascontiguousarray(data.astronaut()), np.ascontiguousarray(data.coffee())]
    fixtures = sorted(path for path in privacy_hard_set.FIXTURES.iterdir() if path.suffix.lower() in (".jpg", ".png"))
    found += [read_rgb(path) for path in fixtures[::3]]
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


def main() -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    centerface_int8.RANGES.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        quantize_static(centerface_int8.prepared(centerface._dynamic_model_bytes()), Path(folder) / "int8.onnx",
                        Blobs(photos()), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=list(centerface_int8.FLOAT_STEM), calibrate_method=CalibrationMethod.MinMax,
                        calibration_cache_path=centerface_int8.RANGES,
                        extra_options={"CalibMovingAverage": False})
    print(f"wrote {centerface_int8.RANGES} ({centerface_int8.RANGES.stat().st_size} bytes)")


if __name__ == "__main__":
    cv2.setNumThreads(1)
    main()
