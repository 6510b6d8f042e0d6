"""Temporally stable masks for an image batch treated as video frames."""

from __future__ import annotations

import numpy as np
import pytest

from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.face import Face
from playalter.pipelines.privacy import PrivacyOptions, protect_batch, stabilize


def _face(x: float, y: float = 100.0, size: float = 80.0) -> Face:
    kps = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32) * size + [x, y]
    return Face(bbox=[x, y, x + size, y + size], score=0.9, kps=kps)


def test_jitter_is_smoothed_and_identities_are_kept():
    rng = np.random.default_rng(0)
    raw = [[_face(100 + rng.normal(0, 4)), _face(400 + rng.normal(0, 4))] for _ in range(30)]
    smooth = stabilize(raw, smoothing=0.7, keep_frames=0)
    assert all(len(frame) == 2 for frame in smooth)
    assert [[face.extra["track_id"] for face in frame] for frame in smooth] == [[0, 1]] * 30
    raw_x = np.array([frame[0].bbox[0] for frame in raw[5:]])
    smooth_x = np.array([frame[0].bbox[0] for frame in smooth[5:]])
    assert smooth_x.std() < 0.6 * raw_x.std()


def test_a_lost_face_is_held_for_keep_frames():
    frames = [[_face(100)], [_face(102)], [], [], [], [_face(300)]]
    stable = stabilize(frames, smoothing=0.0, keep_frames=2)
    assert [len(frame) for frame in stable] == [1, 1, 1, 1, 0, 1]
    held = stable[2][0]
    assert held.extra == {"track_id": 0, "held": True}
    last = frames[1][0].bbox  # the held box moves on with the face and grows: it still covers the last place
    assert held.bbox[0] <= last[0] and held.bbox[2] > last[2] and held.width > frames[1][0].width
    assert held.bbox[0] + held.bbox[2] > last[0] + last[2]
    assert stable[5][0].extra == {"track_id": 1, "held": False}


def test_lookahead_masks_a_face_before_it_is_first_detected():
    frames = [[], [], [], [_face(300)], [_face(300)]]
    stable = stabilize(frames, smoothing=0.0, keep_frames=2, lookahead=2)
    assert [len(frame) for frame in stable] == [0, 1, 1, 1, 1]
    assert stable[2][0].extra == {"track_id": 0, "held": True}
    assert stable[1][0].width > stable[2][0].width > stable[3][0].width


@pytest.mark.parametrize("kwargs", [{"smoothing": 1.0}, {"smoothing": -0.1}, {"keep_frames": -1}])
def test_invalid_temporal_settings_are_rejected(kwargs):
    with pytest.raises(InvalidParameterError):
        stabilize([[_face(100)]], **kwargs)


def test_temporal_batch_masks_a_face_the_detector_missed(t1_image):
    faces = detect_faces(t1_image)
    frames = [t1_image, t1_image, t1_image]
    detections = [faces, faces[:5], faces]  # the detector misses one face in the middle frame
    missed = faces[5]
    rows = slice(int(missed.bbox[1]) + 20, int(missed.bbox[3]) - 20)
    cols = slice(int(missed.bbox[0]) + 20, int(missed.bbox[2]) - 20)
    plain, _, _ = protect_batch(frames, detections, PrivacyOptions("pixelate"))
    assert np.array_equal(plain[1][rows, cols], t1_image[rows, cols])
    stable, masks, report = protect_batch(frames, detections, PrivacyOptions("pixelate"), temporal=True)
    assert not np.array_equal(stable[1][rows, cols], t1_image[rows, cols])
    assert (masks[1][rows, cols] == 1.0).all()
    assert report["temporal"] and len(report["images"][1]["faces"]) == 6


def test_lookahead_is_never_extrapolated_back_across_a_scene_cut():
    frames = [[], [], [], [_face(300)], [_face(300)]]
    stable = stabilize(frames, smoothing=0.0, lookahead=4, cuts=[False, False, True, False, False])
    assert [len(frame) for frame in stable] == [0, 0, 1, 1, 1]  # frame 2 starts the scene of the face


def test_temporal_batch_masks_new_faces_early_and_resets_at_a_cut(t1_image, astronaut_image):
    """The Privacy Mask node's temporal path: the look-ahead of the video pipeline and its scene cuts."""
    import cv2

    faces = detect_faces(t1_image)
    other = cv2.resize(astronaut_image, t1_image.shape[1::-1])
    frames = [other, t1_image, t1_image, t1_image, t1_image]  # a cut between frames 0 and 1
    detections = [[], [], [], faces, faces]  # the detector finds the faces only from frame 3
    face = faces[0]
    rows, cols = slice(int(face.bbox[1]) + 10, int(face.bbox[3]) - 10), slice(int(face.bbox[0]) + 10, int(face.bbox[2]) - 10)
    outputs, masks, _ = protect_batch(frames, detections, PrivacyOptions("pixelate"), temporal=True)
    assert all((masks[index][rows, cols] == 1.0).all() for index in (1, 2))  # masked before it was found
    assert not masks[0].any() and np.array_equal(outputs[0], other)  # nothing carried back across the cut
    late, late_masks, _ = protect_batch(frames, detections, PrivacyOptions("pixelate"), temporal=True, lookahead=0)
    assert not late_masks[2].any() and np.array_equal(late[2], t1_image)


def test_batch_sizes_must_agree(t1_image):
    with pytest.raises(InvalidParameterError, match="face lists for 1"):
        protect_batch([t1_image, t1_image], [[]], PrivacyOptions())
