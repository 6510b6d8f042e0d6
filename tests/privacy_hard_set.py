"""The privacy TUNING set: hard frames made from real photos (crowds of small faces, rotations, blur,
darkness, heavy JPEG) and face-free photos. Every choice of the privacy detection (int8 ranges, thresholds,
the cascade's proposal threshold, overview sides) is made on this set; figures quoted in docs come from the
evaluation set (tests/privacy_eval_set.py), which shares no source face, background or seed with it.

Faces are cut (head and shoulders, square) out of skimage's astronaut, insightface's t1.jpg and the
shared fixture photos of even index (``tuning_fixtures``; the odd ones are the evaluation set's) and pasted,
scaled, onto skimage's coffee photo at 1920x1080. Used by tests/test_privacy_recall.py, bench/recall.py
and the int8 calibration; every frame is reproducible (fixed seeds).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

FRAME_H, FRAME_W = 1080, 1920
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "faces"
CROWD_SIDES = (20, 24, 28, 32, 40, 48, 60, 80)  # face box sides in pixels
TINY_SIDES = (10, 11, 12, 13, 14, 16, 18, 20)


def fixture_photos() -> list[Path]:
    """The shared fixture photos, sorted by name ([] when ../shared/fixtures is absent)."""
    if not FIXTURES.is_dir():
        return []
    return sorted(path for path in FIXTURES.iterdir() if path.suffix.lower() in (".jpg", ".png"))


def tuning_fixtures() -> list[Path]:
    """The fixture photos of the tuning set: every other one, from the first."""
    return fixture_photos()[0::2]


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def tuning_photos() -> list[np.ndarray]:
    """uint8 RGB photos of the tuning set's source faces: the astronaut, t1.jpg, the tuning fixtures."""
    from skimage import data

    spec = importlib.util.find_spec("insightface")
    photos = [np.ascontiguousarray(data.astronaut())]
    t1 = Path(spec.origin).parent / "data" / "images" / "t1.jpg" if spec and spec.origin else None
    if t1 is not None and t1.is_file():
        photos.append(read_rgb(t1))
    return photos + [read_rgb(path) for path in tuning_fixtures()]


def face_crops(photos: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Square RGB crops [S,S,3], each holding one real face (box 1.8x enlarged), from ``photos`` (default:
    the tuning photos); the face box is the crop's central 1/1.8."""
    from playalter.pipelines.engine.detection import detect_faces

    crops = []
    for photo in tuning_photos() if photos is None else photos:
        for face in detect_faces(photo, backend="centerface", threshold=0.6, max_side=0, analyse=False, dense=False):
            x1, y1, x2, y2 = face.bbox
            size = int(round(1.8 * max(x2 - x1, y2 - y1)))
            if size < 60:
                continue
            left, top = int(round((x1 + x2 - size) / 2)), int(round((y1 + y2 - size) / 2))
            padded = cv2.copyMakeBorder(photo, size, size, size, size, cv2.BORDER_REPLICATE)
            crops.append(np.ascontiguousarray(padded[top + size:top + 2 * size, left + size:left + 2 * size]))
    return crops


def background(seed: int = 0) -> np.ndarray:
    """A face-free 1920x1080 frame: skimage's coffee photo, enlarged and mirrored by seed."""
    from skimage import data

    image = cv2.resize(np.ascontiguousarray(data.coffee()), (FRAME_W, FRAME_H), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(image[:, ::-1]) if seed % 2 else image


def paste(frame: np.ndarray, crop: np.ndarray, face_side: int, cx: int, cy: int, angle: float = 0.0) -> list[float]:
    """Paste ``crop`` so its face is ``face_side`` px, centred at (cx, cy), rotated by ``angle`` degrees
    (counter-clockwise); returns the face box [x1,y1,x2,y2] of the unrotated face."""
    size = int(round(face_side * 1.8))
    scaled = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    if angle:
        matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
        scaled = cv2.warpAffine(scaled, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)
    left, top = cx - size // 2, cy - size // 2
    frame[top:top + size, left:left + size] = scaled
    return [cx - face_side / 2, cy - face_side / 2, cx + face_side / 2, cy + face_side / 2]


def crowd(crops: list[np.ndarray], sides=CROWD_SIDES, seed: int = 0) -> tuple[np.ndarray, list[list[float]]]:
    """A 1920x1080 crowd: rows of faces, one row per size (smallest at the top), crops cycled."""
    frame = background(seed)
    boxes, index, y = [], seed, 10
    for side in sides:
        cell = int(side * 1.8) + 6
        for x in range(10, FRAME_W - cell, cell):
            boxes.append(paste(frame, crops[index % len(crops)], side, x + cell // 2, y + cell // 2))
            index += 1
        y += cell
        if y + int(sides[-1] * 1.8) >= FRAME_H:
            break
    return frame, boxes


def rotated(crops: list[np.ndarray], angles=(30, 60, 90, 120, 150, 180, 210, 270), side: int = 120,
            seed: int = 0) -> tuple[np.ndarray, list[list[float]]]:
    """One frame of faces rotated in the image plane by each angle, two rows."""
    frame = background(seed)
    boxes = []
    for number, angle in enumerate(angles):
        cx = 150 + (number % 4) * 420
        cy = 250 + (number // 4) * 500
        boxes.append(paste(frame, crops[(seed + number) % len(crops)], side, cx, cy, angle))
    return frame, boxes


def motion_blur(frame: np.ndarray, length: int = 15) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1.0 / length  # horizontal streak
    return cv2.filter2D(frame, -1, kernel)


def dark(frame: np.ndarray, gain: float = 0.12, lift: float = 4.0) -> np.ndarray:
    """Underexposed and low in contrast: values squeezed into about 4..35."""
    return np.clip(frame.astype(np.float32) * gain + lift, 0, 255).astype(np.uint8)


def jpeg(frame: np.ndarray, quality: int = 18) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def hard_set(crops: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Named hard frames (uint8 RGB 1920x1080)."""
    crowd_a, _ = crowd(crops, seed=0)
    crowd_b, _ = crowd(crops, sides=(22, 26, 30, 36, 44, 56), seed=1)
    tiny, _ = crowd(crops, sides=TINY_SIDES, seed=3)
    medium, _ = crowd(crops, sides=(40, 60, 90), seed=2)
    turned, _ = rotated(crops)
    return {
        "crowd_20_80": crowd_a,
        "crowd_22_56": crowd_b,
        "crowd_10_20": tiny,
        "rotations": turned,
        "motion_blur": motion_blur(medium),
        "dark": dark(medium),
        "jpeg_q18": jpeg(crowd_b),
    }


def covered(boxes: np.ndarray, mask: np.ndarray) -> int:
    """How many boxes [N,4] have their centre inside ``mask`` [H,W]."""
    centres = np.rint((boxes[:, :2] + boxes[:, 2:4]) / 2).astype(int)  # [N,2]
    centres[:, 0] = np.clip(centres[:, 0], 0, mask.shape[1] - 1)
    centres[:, 1] = np.clip(centres[:, 1], 0, mask.shape[0] - 1)
    return int(mask[centres[:, 1], centres[:, 0]].sum())


def tuning_frames(crops: list[np.ndarray]) -> dict[str, list[tuple[np.ndarray, list[list[float]]]]]:
    """The tuning set by kind of frame, as ``privacy_eval_set.evaluation_set`` gives the evaluation set:
    (uint8 RGB frame [H,W,3], pasted face boxes [x1,y1,x2,y2])."""
    medium = crowd(crops, sides=(40, 60, 90), seed=2)
    crowd_b = crowd(crops, sides=(22, 26, 30, 36, 44, 56), seed=1)
    return {
        "tiny_crowd": [crowd(crops, sides=TINY_SIDES, seed=3)],
        "crowd": [crowd(crops, seed=0), crowd_b],
        "turned": [rotated(crops), rotated(crops, angles=(90, 180, 270, 90, 180, 270, 135, 225), side=30)],
        "motion_blur": [(motion_blur(medium[0]), medium[1])],
        "dark": [(dark(medium[0]), medium[1])],
        "jpeg": [(jpeg(crowd_b[0]), crowd_b[1])],
    }


TURNS = {"turned": (0, 1, 2, 3)}  # quarter turns the judge looks in per kind (MTCNN sees upright faces only)


FACE_FREE = ("coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "coins", "moon", "page",
             "text", "horse", "brick", "grass", "gravel", "colorwheel", "clock", "logo", "retina", "cell")


def face_free(name: str) -> np.ndarray:
    """uint8 RGB [H,W,3] of one of scikit-image's ``FACE_FREE`` photos (grey ones as three equal channels)."""
    from skimage import data

    image = np.asarray(getattr(data, name)())
    if image.dtype != np.uint8:
        image = (image.astype(np.float64) / max(float(image.max()), 1.0) * 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.dstack([image] * 3)
    return np.ascontiguousarray(image[..., :3])
