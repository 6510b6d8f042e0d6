"""The streaming pass with a scripted detector: look-ahead masking, held faces, scene cuts, detect_every;
and swap on video through the same path."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import read_frames, window, write_clip

from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.face import Face
from playalter.pipelines.video import VideoOptions, stream
from playalter.pipelines.tracking.tracker import Tracker


def _face(x: float, y: float = 40.0, size: float = 40.0) -> Face:
    kps = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32) * size + [x, y]
    return Face(bbox=np.array([x, y, x + size, y + size], np.float32), score=0.9, kps=kps)


def _scripted(tmp_path, frames, faces_at, options):
    """Run the pass on ``frames`` with a detector that returns ``faces_at(index)``; per written frame, the
    (track id, held) of the faces handed to the renderer; and the frames the detector ran on."""
    source = write_clip(tmp_path / "scripted.mp4", frames)
    calls: list[int] = []
    rendered: list[list[tuple[int, bool]]] = []

    def detect(image):
        calls.append(len(calls))
        return faces_at(image)

    def render(image, faces):
        rendered.append(sorted((face.extra["track_id"], face.extra["held"]) for face in faces))
        return image, {}

    report = stream.run(source, tmp_path / "out.mp4", options, detect, render)
    return rendered, report


def _marked(count: int, cut: int | None = None) -> list[np.ndarray]:
    """Plain frames whose top-left pixel value is the frame number; a different colour from ``cut`` on."""
    frames = []
    for index in range(count):
        frame = np.full((120, 160, 3), (200, 60, 60) if cut is not None and index >= cut else (60, 60, 200), np.uint8)
        frame[:8, :8] = index * 8
        frames.append(frame)
    return frames


def _index(image) -> int:
    return round(float(image[:8, :8].mean()) / 8)


def test_a_face_is_masked_before_it_is_first_detected_but_not_across_a_cut(tmp_path):
    frames = _marked(20, cut=8)
    rendered, report = _scripted(tmp_path, frames, lambda image: [_face(60)] if _index(image) >= 11 else [],
                                 VideoOptions(lookahead_frames=5, keep_lost_frames=2))
    present = [index for index, faces in enumerate(rendered) if faces]
    assert present == list(range(8, 20))  # 8..10 from the look-ahead, never before the cut at 8
    assert rendered[8] == rendered[10] == [(0, True)] and rendered[11] == [(0, False)]
    assert report["scenes"] == 2 and report["tracks"][0]["first_frame"] == 8
    assert report["tracks"][0]["frames_detected"] == 9 and report["tracks"][0]["frames_held"] == 3


def test_a_lost_face_keeps_its_mask_for_keep_lost_frames(tmp_path):
    frames = _marked(20)
    seen = lambda image: [] if 5 <= _index(image) < 12 else [_face(30 + 2 * _index(image))]  # noqa: E731
    rendered, report = _scripted(tmp_path, frames, seen, VideoOptions(lookahead_frames=0, keep_lost_frames=3))
    assert [bool(faces) for faces in rendered[5:12]] == [True, True, True, False, False, False, False]
    assert rendered[12] == [(1, False)]  # found again after the track ended: a new track
    assert [track["frames_held"] for track in report["tracks"]] == [3, 0]


def test_detect_every_tracks_in_between(tmp_path):
    calls: list[int] = []

    def faces_at(image):
        calls.append(_index(image))
        return [_face(20 + 3 * _index(image))]

    rendered, report = _scripted(tmp_path, _marked(12), faces_at, VideoOptions(detect_every=4, lookahead_frames=2))
    assert calls == [0, 4, 8]
    assert all(faces and faces[0][0] == 0 for faces in rendered)
    assert report["tracks"][0]["frames_detected"] == 3 and report["tracks"][0]["frames_masked"] == 12


def test_the_prediction_follows_a_moving_face():
    tracker = Tracker(smoothing=0.5, keep_frames=5)
    for step in range(10):
        tracker.update([_face(20 + 5 * step)])
    held, _ = tracker.update([])  # lost: predicted one step further, grown a little
    assert held[0].extra["held"] and held[0].bbox[0] < 70 < held[0].bbox[2] and held[0].bbox[2] > 70 + 40


@pytest.mark.parametrize("kwargs", [{"detect_every": 0}, {"lookahead_frames": -1}, {"crf": 60},
                                    {"smoothing": 1.0}, {"scene_cut": 1.5}])
def test_invalid_video_options_are_refused(kwargs):
    with pytest.raises(InvalidParameterError):
        VideoOptions(**kwargs)


def test_swap_video_puts_the_source_on_the_chosen_track_only(tmp_path, t1_image, astronaut_image):
    from playalter.pipelines.engine.detection import detect_faces
    from playalter.pipelines.swap.pipeline import Source, SwapOptions
    from playalter.pipelines.video import swap_video

    frames = [np.hstack([window(astronaut_image, (0.4, 0.3), 1.6, (160, 120)),
                         window(astronaut_image, (0.4 + 0.004 * index, 0.3), 2.0, (160, 120))])
              for index in range(10)]
    source = write_clip(tmp_path / "two.mp4", frames, audio_seconds=0.4)
    source_faces = detect_faces(t1_image)
    report = swap_video(Source(t1_image, source_faces[0], None, "t1 face 0"), source, tmp_path / "swapped.mp4",
                        SwapOptions(method="classical"), VideoOptions(crf=4), tracks="1")
    shown, _, _ = read_frames(tmp_path / "swapped.mp4")
    original, _, _ = read_frames(source)
    assert report["swap"]["method"] == "classical" and report["audio"] == "copied" and len(shown) == 10
    first = [track for track in report["tracks"] if track["track"] == 0][0]
    assert first["frames_masked"] == 10
    boxes = (slice(15, 71), slice(68, 113)), (slice(6, 73), slice(226, 281))  # the two faces (rows, columns)
    diffs = np.array([[np.abs(out[box].astype(int) - src[box]).mean() for box in boxes]
                      for out, src in zip(shown, original)])  # [frames, 2]
    swapped = int(np.argmax(diffs.sum(axis=0)))
    assert (diffs[:, swapped] > 4 * diffs[:, 1 - swapped]).all()  # one face swapped on every frame, one kept


def test_swap_video_command(tmp_path, t1_image, astronaut_image, capsys):
    import cv2

    from playalter.runner.cli.main import main

    photo = tmp_path / "me.png"
    cv2.imwrite(str(photo), cv2.cvtColor(t1_image, cv2.COLOR_RGB2BGR))
    clip = write_clip(tmp_path / "clip.webm", [window(astronaut_image, (0.4, 0.3), 1.6, (160, 120))] * 6,
                      codec="libvpx-vp9")
    out = tmp_path / "out"
    assert main(["swap-video", str(photo), str(clip), "--out", str(out), "--method", "classical", "--report"]) == 0
    assert "clip_swapped.mp4" in capsys.readouterr().out
    assert (out / "clip_swapped.mp4").exists() and (out / "clip_swap.json").exists()
    assert main(["swap-video", str(photo), str(photo), "--out", str(out)]) == 2
    assert "me.png is not a video" in capsys.readouterr().err
