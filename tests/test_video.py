"""Video anonymisation on clips made from real photos: no frame leaks a face, audio, timing and rotation
kept, memory bounded, damaged input and cancellation handled."""

from __future__ import annotations

import os
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from mtcnn_judge import MtcnnJudge
from video_clips import audio_packets, read_frames, story_frames, window, write_clip

from playalter.pipelines.privacy import PrivacyOptions
from playalter.pipelines.video import VideoCancelledError, VideoError, VideoOptions, anonymize_video, probe
from playalter.runner.cli.main import main

CUT = 40  # story_frames(count=75): the scene cut


@pytest.fixture(scope="module")
def detector():
    return MtcnnJudge()


@pytest.fixture(scope="module")
def story(tmp_path_factory, t1_image, astronaut_image):
    folder = tmp_path_factory.mktemp("story")
    frames = story_frames(t1_image, astronaut_image)
    source = write_clip(folder / "story.mp4", frames, audio_seconds=3.0)
    target = folder / "story_anonymized.mp4"
    report = anonymize_video(source, target, PrivacyOptions("blur"))
    return frames, source, target, report


def test_no_output_frame_shows_a_face_the_independent_detector_finds(story, detector):
    frames, _, target, _ = story
    outputs, _, _ = read_frames(target)
    assert len(outputs) == len(frames)
    seen = [detector.boxes(frame) for frame in frames]
    assert sum(len(boxes) > 0 for boxes in seen) >= 50 and max(map(len, seen)) >= 3  # faces are there to find
    leaks = {index: detector.still_found(boxes, output) for index, (boxes, output) in enumerate(zip(seen, outputs))}
    assert {index: found for index, found in leaks.items() if found} == {}


def test_audio_is_copied_and_frames_keep_their_times(story):
    _, source, target, report = story
    codec, payloads, seconds = audio_packets(source)
    assert audio_packets(target) == (codec, payloads, seconds)  # the same packets: remuxed, not re-encoded
    assert codec == "aac" and seconds == pytest.approx(3.0, abs=0.07)
    _, times_in, _ = read_frames(source)
    _, times_out, _ = read_frames(target)
    assert times_out == times_in
    assert report["frames"] == 75 and report["audio"] == "copied"
    info = probe(target)
    assert (info.codec, info.has_audio, info.audio_codec, info.width, info.height) == ("h264", True, "aac", 320, 240)


def test_tracks_are_reset_at_the_scene_cut(story):
    report = story[3]
    assert report["scenes"] == 2
    before = [track for track in report["tracks"] if track["first_frame"] < CUT]
    after = [track for track in report["tracks"] if track["first_frame"] >= CUT]
    assert len(before) >= 4 and len(after) >= 1
    assert all(track["last_frame"] < CUT for track in before)
    assert all(track["frames_masked"] >= track["frames_detected"] for track in report["tracks"])


def test_variable_frame_rate_time_stamps_are_kept(tmp_path, astronaut_image):
    steps = [33, 40, 67, 20, 100] * 6  # milliseconds between frames
    pts = list(np.cumsum([0] + steps[:-1]))
    frames = [window(astronaut_image, (0.4, 0.3), 1.5 + 0.02 * index) for index in range(len(pts))]
    source = write_clip(tmp_path / "vfr.mkv", frames, pts=pts, time_base=Fraction(1, 1000))
    target = tmp_path / "vfr_out.mkv"
    anonymize_video(source, target, PrivacyOptions("pixelate"))
    _, times_in, _ = read_frames(source)
    _, times_out, _ = read_frames(target)
    assert len(times_in) == len(times_out) == 30
    assert times_out == pytest.approx(times_in, abs=1e-3)
    assert times_in == pytest.approx([value / 1000 for value in pts], abs=1e-3)


def test_rotation_is_kept_and_the_face_is_found_upright(tmp_path, astronaut_image, detector):
    frames = [window(astronaut_image, (0.4 + 0.005 * index, 0.3), 1.6) for index in range(12)]
    source = write_clip(tmp_path / "phone.mp4", frames, rotation=90, audio_seconds=0.5)
    assert probe(source).rotation == 90 and probe(source).width == 240  # stored sideways
    target = tmp_path / "phone_out.mp4"
    report = anonymize_video(source, target, PrivacyOptions("blur"))
    shown_in, _, _ = read_frames(source)
    shown_out, _, rotation = read_frames(target)
    assert rotation == 90 and report["video"]["rotation"] == 90
    seen = [detector.boxes(frame) for frame in shown_in]
    assert all(len(boxes) for boxes in seen)
    assert not any(detector.still_found(boxes, after) for boxes, after in zip(seen, shown_out))


def test_odd_sizes_and_lossless_sources_are_encoded(tmp_path, astronaut_image):
    frames = [window(astronaut_image, (0.4, 0.3), 1.6, (161, 121)) for _ in range(6)]
    source = write_clip(tmp_path / "odd.mkv", frames, codec="ffv1", pixel_format="yuv444p")
    assert (probe(source).codec, probe(source).width) == ("ffv1", 161)
    report = anonymize_video(source, tmp_path / "odd.mp4")
    info = probe(tmp_path / "odd.mp4")
    assert report["frames"] == 6 and (info.width, info.height) == (162, 122)  # yuv420p: one edge pixel added


def test_faces_cut_by_the_frame_edge_are_pixelated_as_coarsely_as_whole_faces(tmp_path, t1_image, astronaut_image,
                                                                           detector):
    """A faster pan: faces enter at the side edges, their boxes cut to a narrow sliver. Pixel blocks sized by
    the sliver's width left two of them recognisable; they are sized by the face's height as well."""
    frames = story_frames(t1_image, astronaut_image, count=24)
    source = write_clip(tmp_path / "fast.mp4", frames)
    anonymize_video(source, tmp_path / "fast_out.mp4", PrivacyOptions("pixelate"))
    inputs, _, _ = read_frames(source)
    outputs, _, _ = read_frames(tmp_path / "fast_out.mp4")
    seen = [detector.boxes(frame) for frame in inputs]
    assert sum(map(len, seen)) >= 40
    assert {index: left for index, (boxes, output) in enumerate(zip(seen, outputs))
            if (left := detector.still_found(boxes, output))} == {}


def _crowd_clip(path: Path, frames: int = 7) -> tuple[list[np.ndarray], Path]:
    """A 1280x480 slow pan over a crowd of 20-48 px faces pasted from the real photos."""
    import cv2
    import privacy_hard_set as hard

    crowd, _ = hard.crowd(hard.face_crops(), sides=(20, 24, 28, 32, 40, 48))
    shown = []
    for index in range(frames):
        shift = np.float32([[1, 0, -3 * index], [0, 1, 0]])
        shown.append(cv2.warpAffine(crowd, shift, (1280, 480), borderMode=cv2.BORDER_REPLICATE))
    return shown, write_clip(path, shown)


def test_small_faces_found_only_by_the_full_resolution_pass_stay_hidden_between_its_frames(tmp_path, detector):
    frames, source = _crowd_clip(tmp_path / "crowd.mp4")
    inputs, _, _ = read_frames(source)
    seen = [detector.boxes(frame) for frame in inputs]
    assert min(map(len, seen)) >= 15  # faces are there to find

    def leaks(options: VideoOptions) -> tuple[dict, dict]:
        target = tmp_path / f"crowd_{options.full_every}.mp4"
        report = anonymize_video(source, target, PrivacyOptions("blur"), options)
        outputs, _, _ = read_frames(target)
        found = {index: detector.still_found(boxes, after) for index, (boxes, after) in enumerate(zip(seen, outputs))}
        return {index: boxes for index, boxes in found.items() if boxes}, report

    left, report = leaks(VideoOptions())  # every pass on frames 0, 3, 6; the 640 px overview between
    assert left == {}
    assert sum(track["frames_held"] for track in report["tracks"]) > 0  # the quick frames did miss faces
    assert report["detection"] == {"threshold": 0.2, "overview_sides": [640], "thorough": False,
                                   "int8": False}  # the photos' detection: the fp32 model alone
    quick_only, _ = leaks(VideoOptions(full_every=100, lookahead_frames=0, keep_lost_frames=0))
    assert len(quick_only) >= 5  # without the full passes' faces small faces show on the frames after the first



def test_the_int8_cascade_hides_the_small_faces_of_a_video_too(tmp_path, detector):
    """Video takes the photos' detection options, the int8 cascade included: measured, not exempted, on the
    crowd clip whose faces only the full passes find."""
    from dataclasses import replace

    from playalter.pipelines.privacy.detection_settings import PRIVACY_DETECTION

    frames, source = _crowd_clip(tmp_path / "crowd.mp4")
    inputs, _, _ = read_frames(source)
    target = tmp_path / "crowd_int8.mp4"
    report = anonymize_video(source, target, PrivacyOptions("blur"), VideoOptions(),
                             detection=replace(PRIVACY_DETECTION, int8=True))
    outputs, _, _ = read_frames(target)
    left = {index: detector.still_found(detector.boxes(before), after)
            for index, (before, after) in enumerate(zip(inputs, outputs))}
    assert report["detection"]["int8"] is True
    assert {index: boxes for index, boxes in left.items() if boxes} == {}

def _peak_bytes(source: Path, target: Path) -> int:
    tracemalloc.start()
    try:
        anonymize_video(source, target, PrivacyOptions("pixelate"), VideoOptions(lookahead_frames=8))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_length(tmp_path, astronaut_image):
    frames = [window(astronaut_image, (0.3 + 0.002 * (index % 100), 0.3), 1.5, (160, 120)) for index in range(500)]
    # The view jumps back every 100 frames (a scene cut, which briefly holds more): the short clip has one
    # jump, the long one four, so the two peaks compare the same kinds of moments.
    short = write_clip(tmp_path / "short.mp4", frames[:120], audio_seconds=4.8)
    long = write_clip(tmp_path / "long.mp4", frames, audio_seconds=20.0)
    _peak_bytes(short, tmp_path / "warm.mp4")  # models and caches loaded once
    peak_short = _peak_bytes(short, tmp_path / "short_out.mp4")
    peak_long = _peak_bytes(long, tmp_path / "long_out.mp4")
    assert peak_long < 1.3 * peak_short, (peak_short, peak_long)


def test_damaged_videos_fail_with_a_clear_error_and_write_nothing(story, tmp_path, capsys):
    source = story[1]
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    noise = tmp_path / "noise.mov"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    for damaged in (truncated, noise):
        with pytest.raises(VideoError, match=damaged.name):
            anonymize_video(damaged, tmp_path / "out.mp4")
        out = tmp_path / f"out_{damaged.stem}"
        assert main(["anonymize", str(damaged), "--out", str(out)]) == 2
        error = capsys.readouterr().err
        assert f"error: {damaged.name}" in error and "Traceback" not in error and str(tmp_path) not in error
        assert list(out.iterdir()) == []
    assert not (tmp_path / "out.mp4").exists()


def test_cancelling_leaves_no_output(story, tmp_path):
    calls = []
    target = tmp_path / "cancelled.mp4"
    with pytest.raises(VideoCancelledError):
        anonymize_video(story[1], target, progress=lambda done, total: calls.append((done, total)),
                        cancelled=lambda: len(calls) >= 5)
    assert calls[:2] == [(1, 75), (2, 75)] and len(calls) == 5
    assert list(tmp_path.iterdir()) == []


def test_cli_anonymizes_a_video_with_a_per_track_audit(story, tmp_path, capsys, detector):
    out = tmp_path / "out"
    clip = write_clip(tmp_path / "clip.mov", story[0][CUT:CUT + 20], audio_seconds=0.8)
    assert main(["anonymize", str(clip), "--out", str(out), "--auto-strengthen", "--type", "pixelate",
                 "--crf", "28"]) == 0  # the two-detector audit strengthens the blocks where a face still shows
    output = out / "clip_anonymized.mp4"
    captured = capsys.readouterr()
    assert f"-> {output}" in captured.out and "track 0: frames 0-19, masked 20" in captured.out
    assert "fps" in captured.err and "left" in captured.err  # the progress bar
    report = (out / "clip_privacy.json").read_text()
    assert '"frames_redetected": 0' in report and '"all_hidden": true' in report
    assert '"frames_recognisable": 0' in report and '"min_identity_distance"' in report  # per track
    shown, _, _ = read_frames(output)
    seen = [detector.boxes(frame) for frame in story[0][CUT:CUT + 20]]
    assert len(shown) == 20 and sum(len(boxes) > 0 for boxes in seen) >= 10
    assert not any(detector.still_found(boxes, after) for boxes, after in zip(seen, shown))
    assert main(["anonymize", str(clip), "--out", str(out)]) == 0  # never overwrites
    assert (out / "clip_anonymized_2.mp4").exists() and not any(name.startswith(".") for name in os.listdir(out))


def test_an_undecodable_stream_is_refused_naming_its_codec(story, tmp_path, capsys):
    import av

    garbled = tmp_path / "garbled.mkv"
    rng = np.random.default_rng(1)
    with av.open(str(story[1])) as source, av.open(str(garbled), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.size:
                noise = av.Packet(rng.integers(0, 256, packet.size, np.uint8).tobytes())
                noise.pts, noise.dts, noise.time_base, noise.stream = packet.pts, packet.dts, packet.time_base, stream
                target.mux(noise)
    with pytest.raises(VideoError, match=r"garbled\.mkv .*video codec h264"):
        probe(garbled)
    assert main(["anonymize", str(garbled), "--out", str(tmp_path / "out")]) == 2
    assert "video codec h264" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []
