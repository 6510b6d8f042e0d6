"""Measurement fusion: copies of one photo fuse to the same values with less noise, the scale's own error
stays, invalid frames are left out of exactly what they invalidate, other people are refused."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from playalter.pipelines.core.errors import DependencyMissingError, InvalidParameterError
from playalter.pipelines.engine import embedding, measurement_fusion
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.engine.face_measurements import DISTANCES, measure_face
from playalter.pipelines.engine.measurement_fusion import Frame, fuse_frames, fuse_results

from conftest import requires_face_mesh

pytestmark = requires_face_mesh
YAW_MEASUREMENTS = {item.name for item in DISTANCES if "yaw" in item.needs} | {"interpupillary_distance", "symmetry"}


def _copies(image: np.ndarray, count: int) -> list[np.ndarray]:
    """Perturbed copies of uint8 [H,W,3]: rescaled 0.85-1.3, rotated +-3 deg, every other one mirrored,
    sensor noise and JPEG, so each frame's landmarks and iris fit are new."""
    rng = np.random.default_rng(24)
    copies = []
    for index in range(count):
        zoom = 0.85 + 0.45 * index / max(count - 1, 1)
        height, width = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-3, 3), zoom)  # [2,3]
        size = (round(width * zoom), round(height * zoom))
        matrix[:, 2] += ((size[0] - width) / 2, (size[1] - height) / 2)
        copy = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if index % 2:
            copy = copy[:, ::-1]
        copy = np.clip(copy + rng.normal(0, 2, copy.shape), 0, 255).astype(np.uint8)
        ok, data = cv2.imencode(".jpg", copy, [cv2.IMWRITE_JPEG_QUALITY, 85])
        copies.append(np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)))
    return copies


def _frames(images: list[np.ndarray], prefix: str = "photo") -> list[Frame]:
    frames = []
    for index, image in enumerate(images):
        faces = detect_faces(image, dense=True)
        assert faces and faces[0].mesh is not None
        frames.append(Frame(image, faces[0], f"{prefix} {index}"))
    return frames


@pytest.fixture(scope="module")
def astronaut_face(astronaut_image) -> np.ndarray:
    return np.ascontiguousarray(astronaut_image[0:280, 90:370])  # the head with a margin, [280,280,3]


@pytest.fixture(scope="module")
def astronaut_frames(astronaut_face) -> list[Frame]:
    return _frames(_copies(astronaut_face, 6))


@pytest.fixture(scope="module")
def other_person(t1_image) -> Frame:
    """The largest face of insightface's t1.jpg, cropped: someone who is not the astronaut."""
    face = detect_faces(t1_image, dense=True)[0]
    x1, y1, x2, y2 = face.bbox.astype(int)
    side = int(1.2 * max(x2 - x1, y2 - y1))
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    crop = np.ascontiguousarray(t1_image[max(cy - side, 0):cy + side, max(cx - side, 0):cx + side])
    crop = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return _frames([crop], "other")[0]


def _shape_only(monkeypatch) -> None:
    def no_identity_model(prefer="auto"):
        raise DependencyMissingError("no identity model in this test")

    monkeypatch.setattr(embedding, "resolve_space", no_identity_model)


def test_copies_fuse_to_the_same_values_with_less_noise(astronaut_frames):
    fused = fuse_frames(astronaut_frames)
    singles = [measure_face(frame.face, None, frame.image)["measurements"] for frame in astronaut_frames]
    checked = 0
    for name, entry in fused["measurements"].items():
        if "value_mm" not in entry or not entry["valid"]:
            continue
        fusion = entry["fusion"]
        left_out = {item["frame"] for item in fusion["left_out"]}
        values = [single[name]["value_mm"] for frame, single in zip(astronaut_frames, singles)
                  if frame.name not in left_out]
        assert fusion["frames"] + len(fusion["outliers"]) == len(values) == len(singles) - len(left_out)
        # the same value: within the frames' own spread of their middle
        assert abs(entry["value_mm"] - np.median(values)) <= max(fusion["spread"] or 0.0, 0.05 * entry["value_mm"])
        assert min(values) - 1e-6 <= entry["value_mm"] <= max(values) + 1e-6
        # less noise than one frame: the frame-to-frame part falls with the frames kept ...
        frame_uncertainty = np.median([single[name]["uncertainty_mm"] for single in singles if single[name]["valid"]])
        assert entry["uncertainty_mm"] < frame_uncertainty
        assert fusion["noise_sd"] <= max(fusion["spread"], frame_uncertainty) / np.sqrt(fusion["frames"]) + 0.01
        # ... while the iris's own size, the same in every photo, does not average out
        iris = measurement_fusion.systematic_scale_sd({"source": fused["scale"]["source"]})  # 3.6 %
        assert fusion["scale_sd"] == pytest.approx(iris * entry["value_mm"], abs=0.011)
        assert entry["uncertainty_mm"] >= fusion["scale_sd"] - 0.01
        checked += 1
    assert checked >= 6
    assert fused["scale"]["source"] == "iris"
    assert fused["fusion"]["identity"]["method"] in ("dlib_resnet_v1", "arcface_w600k_r50", "face_shape")


def test_fused_values_agree_better_than_single_frames(astronaut_face):
    """Two disjoint sets of frames: their fused values differ less than single frames do."""
    frames = _frames(_copies(astronaut_face, 10))
    first, second = (fuse_results([measure_face(frame.face) for frame in part], [frame.name for frame in part])
                     for part in (frames[0::2], frames[1::2]))
    singles = [measure_face(frame.face)["measurements"] for frame in frames]
    fused_gaps, single_spreads = [], []
    for name in YAW_MEASUREMENTS - {"symmetry"}:
        a, b = first["measurements"][name], second["measurements"][name]
        values = [single[name]["value_mm"] for single in singles if single[name]["valid"]]
        if a["valid"] and b["valid"] and len(values) >= 6:
            fused_gaps.append(abs(a["value_mm"] - b["value_mm"]) / np.sqrt(2))
            single_spreads.append(float(np.std(values, ddof=1)))
    assert len(fused_gaps) >= 5
    assert np.sqrt(np.mean(np.square(fused_gaps))) < np.sqrt(np.mean(np.square(single_spreads)))


def test_invalid_frames_are_left_out_of_exactly_what_they_invalidate(astronaut_frames):
    turned = dataclasses.replace(astronaut_frames[2].face, pose=(45.0, 0.0, 0.0))  # yaw beyond the 30 deg limit
    frames = [*astronaut_frames[:2], Frame(astronaut_frames[2].image, turned, "turned"), *astronaut_frames[3:]]
    plain = fuse_frames(astronaut_frames)["measurements"]
    fused = fuse_frames(frames)["measurements"]
    results = {frame.name: measure_face(frame.face, None, frame.image) for frame in frames}
    singles = {name: result["measurements"] for name, result in results.items()}
    other_scale = {name for name, result in results.items() if result["scale"]["source"] != "iris"}  # left out of all
    for name, entry in fused.items():
        left_out = {item["frame"] for item in entry["fusion"]["left_out"]}
        expected = {frame for frame, single in singles.items() if not single[name]["valid"]} | other_scale
        assert left_out == expected, name
    yaw_dependent = [item.name for item in DISTANCES if "yaw" in item.needs and plain[item.name]["valid"]]
    assert len(yaw_dependent) >= 4
    for name in yaw_dependent:  # the turned frame is left out of what needs a frontal head, with why ...
        reasons = {item["frame"]: item["reason"] for item in fused[name]["fusion"]["left_out"]}
        assert reasons["turned"].startswith("head turned too far")
        assert fused[name]["fusion"]["frames"] + len(fused[name]["fusion"]["outliers"]) == len(frames) - len(reasons)
    kept = [name for name in fused if plain[name]["valid"] and singles["turned"][name]["valid"]]
    for name in kept:  # ... and kept in what does not
        assert fused[name]["fusion"]["frames"] + len(fused[name]["fusion"]["outliers"]) == \
            plain[name]["fusion"]["frames"] + len(plain[name]["fusion"]["outliers"])


def test_an_outlier_frame_is_dropped():
    base = {"label": "x", "definition": "x", "landmark_ids": [1, 2], "adult_range_mm": [10.0, 100.0],
            "range_source": "x", "valid": True, "reason": None, "uncertainty_mm": 2.5}
    results = [{"method": "dense_mesh", "model": "m", "pose": {"yaw": 0, "pitch": 0},
                "scale": {"source": "iris", "mm_per_px": 0.2, "relative_sd": 0.04},
                "measurements": {"width": {**base, "value_mm": value}}}
               for value in (50.0, 50.4, 49.7, 50.2, 62.0)]
    entry = fuse_results(results, [f"frame {index}" for index in range(5)])["measurements"]["width"]
    assert entry["fusion"]["outliers"] == [{"frame": "frame 4", "value": 62.0}]
    assert entry["fusion"]["frames"] == 4 and entry["value_mm"] == pytest.approx(50.08, abs=0.01)



def test_the_head_tilt_share_of_a_height_does_not_average_out():
    """Five frames at one pitch: the tilt's share of the nose height is a bias of the pose, kept whole in the
    fused uncertainty, while the placement noise falls with the square root of the frames."""
    nose = measurement_fusion.TILTED["nose_height"]
    pitch, placement = 10.0, 1.0  # degrees; mm of placement noise per frame
    frames = []
    for value in (50.0, 50.3, 49.8, 50.1, 49.9):
        tilt = nose.tilt_sd(value, pitch)
        entry = {"label": "x", "definition": "x", "landmark_ids": [1, 2], "adult_range_mm": [10.0, 100.0],
                 "range_source": "x", "valid": True, "reason": None, "value_mm": value,
                 "uncertainty_mm": float(np.hypot(placement, tilt))}
        frames.append({"method": "dense_mesh", "model": "m", "pose": {"yaw": 0.0, "pitch": pitch},
                       "scale": {"source": "card", "mm_per_px": 0.2, "relative_sd": 0.0},
                       "measurements": {"nose_height": entry}})
    fusion = fuse_results(frames, [f"frame {index}" for index in range(5)])["measurements"]["nose_height"]
    tilt = nose.tilt_sd(50.0, pitch)
    assert fusion["fusion"]["tilt_sd"] == pytest.approx(tilt, abs=0.02)
    assert fusion["fusion"]["noise_sd"] == pytest.approx(placement / np.sqrt(5), abs=0.02)
    assert fusion["uncertainty_mm"] >= tilt - 0.01

def test_another_person_is_refused_by_identity(astronaut_frames, other_person):
    try:
        embedding.resolve_space("auto")
    except (DependencyMissingError, InvalidParameterError) as missing:
        pytest.skip(f"no identity model: {missing}")
    with pytest.raises(InvalidParameterError, match=r"one person: other 0 \(.*dlib|one person: other 0 \(.*arcface"):
        fuse_frames([*astronaut_frames[:3], other_person])


def test_another_person_is_refused_by_shape_without_an_identity_model(astronaut_frames, other_person, monkeypatch):
    _shape_only(monkeypatch)
    accepted = fuse_frames(astronaut_frames)
    assert accepted["fusion"]["identity"]["method"] == "face_shape"
    assert "face shape only" in accepted["fusion"]["identity"]["note"]
    with pytest.raises(InvalidParameterError, match=r"one person: other 0 .*face_shape"):
        fuse_frames([*astronaut_frames[:3], other_person])


def test_what_cannot_be_fused_is_a_clear_error(astronaut_frames):
    with pytest.raises(InvalidParameterError, match="segment or a mm_per_px scale describes one photo"):
        fuse_frames(astronaut_frames, {"mm_per_px": 0.2})
    with pytest.raises(InvalidParameterError, match="at most 64"):
        fuse_frames(astronaut_frames * 11)
    by_pixels = [measure_face(frame.face, {"mm_per_px": 0.2}) for frame in astronaut_frames[:2]]
    with pytest.raises(InvalidParameterError, match="mm_per_px describe one photo each"):
        fuse_results(by_pixels, ["a", "b"])
    bare = Frame(astronaut_frames[0].image, dataclasses.replace(astronaut_frames[0].face, mesh=None), "photo 7")
    with pytest.raises(InvalidParameterError, match="photo 7: the face has no dense landmarks"):
        fuse_frames([astronaut_frames[1], bare])


def test_the_measurements_node_fuses_an_image_batch(astronaut_face):
    from playalter.nodes.face_detect import PlayAlterFaceDetect, PlayAlterFaceReport
    from playalter.nodes.flame import PlayAlterFaceMeasurements
    from playalter.nodes.tensors import numpy_to_image_batch

    pytest.importorskip("torch")
    same_size = [astronaut_face, np.ascontiguousarray(astronaut_face[:, ::-1]),
                 cv2.GaussianBlur(astronaut_face, (3, 3), 0)]
    batch = numpy_to_image_batch(same_size)  # [3,280,280,3]
    faces = PlayAlterFaceDetect().detect(batch, "auto", 0.5, 1280, "largest")[0]
    measurements, text = PlayAlterFaceMeasurements().measure(faces=faces, image=batch, fuse=True)
    [entry] = measurements
    assert entry["face"] == 0 and entry["fusion"]["frames"] == 3
    assert entry["fusion"]["reference_frame"] == f"image {entry['image']}"
    assert entry["measurements"]["biocular_width"]["fusion"]["frames"] >= 2
    report = json.loads(PlayAlterFaceReport().report(faces, measurements)[0])
    fused_records = [record for record in report["faces"] if "measurements" in record]
    assert len(fused_records) == 1 and fused_records[0]["measurements"]["fusion"]["frames"] == 3
    with pytest.raises(InvalidParameterError, match="disconnect the FLAME fit"):
        PlayAlterFaceMeasurements().measure(flame_fit=[[]], faces=faces, image=batch, fuse=True)
