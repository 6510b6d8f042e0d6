"""The saved video-anonymisation workflow and the runner's core video nodes (Load Video ... Save Video)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from conftest import read_rgb
from mp4_clip import audio_codec, count_frames, write_clip
from ports import free_port

from playalter.nodes import compat
from playalter.nodes.face_detect import PlayAlterFaceDetect
from playalter.nodes.privacy import PlayAlterPrivacyMask
from playalter.runner.engine.core_video import (CreateVideo, GetVideoComponents, LoadVideo, SaveVideo, VideoDecodeError,
                                         VideoFile)
from playalter.runner.engine.executor import execute
from playalter.runner.engine.workflow import load_workflow

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / "workflows" / "api" / "privacy_video.json"
FRAMES = 12


@pytest.fixture(scope="module")
def clip(tmp_path_factory, t1_path):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", read_rgb(t1_path), frames=FRAMES, fps=12)


def _frame_rate(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        return container.streams.video[0].average_rate


def _first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")  # [H,W,3]


def test_the_saved_workflow_masks_every_frame_and_keeps_count_rate_and_audio(clip, tmp_path):
    result = execute(load_workflow(WORKFLOW), bindings={"video": clip}, output_dir=tmp_path / "out")
    [video] = result.outputs["6"]["images"]
    assert video.filename == "privacy_video_00001_.mp4" and video.subfolder == "playalter"
    assert count_frames(video.path) == FRAMES
    assert _frame_rate(video.path) == 12
    assert audio_codec(video.path) == "aac"
    [report_text] = result.outputs["7"]["json"]
    report = json.loads(report_text)
    assert report["temporal"] is True and len(report["images"]) == FRAMES
    assert all(image["faces"] for image in report["images"]), "every frame has masked faces"
    before, after = _first_frame(clip), _first_frame(video.path)
    x1, y1, x2, y2 = (round(value) for value in report["images"][0]["faces"][0]["bbox"])
    face_change = np.abs(before[y1:y2, x1:x2].astype(int) - after[y1:y2, x1:x2]).mean()
    assert face_change > 3 * np.abs(before[:, :8].astype(int) - after[:, :8]).mean() + 2, "the face was masked"


def test_playalter_run_binds_the_video_by_title(clip, tmp_path):
    completed = subprocess.run([sys.executable, "-m", "playalter.runner.cli.main", "run", str(WORKFLOW),
                                "--input", f"video={clip}", "--out", str(tmp_path / "out")],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    [video] = (tmp_path / "out").rglob("*.mp4")
    assert count_frames(video) == FRAMES and audio_codec(video) == "aac"


def test_the_ui_twin_is_the_same_workflow():
    api = json.loads(WORKFLOW.read_text())
    converted = load_workflow(REPO / "workflows" / "ui" / "privacy_video.json")
    assert {node_id: node["class_type"] for node_id, node in converted.items()} == {
        node_id: node["class_type"] for node_id, node in api.items()}
    for node_id, node in api.items():
        assert node["inputs"].items() <= converted[node_id]["inputs"].items(), node_id


def test_privacy_mask_takes_a_video_batch_with_its_fps_as_video_helper_suite_sends_it(t1_image, tmp_path):
    """An IMAGE batch plus a FLOAT fps (VideoHelperSuite's Load Video) through the node to Create Video."""
    frames = [np.ascontiguousarray(t1_image[:240, offset:offset + 320]) for offset in range(0, 80, 10)]  # 8 x [H,W,3]
    batch = torch.from_numpy(np.stack(frames)).float() / 255.0  # [8,240,320,3]
    fps = 8.0
    faces = PlayAlterFaceDetect().detect(batch, "auto", 0.5, 1280, "largest", analyse=False,
                                         dense_landmarks=False)[0]
    masked, masks, report_text = PlayAlterPrivacyMask().mask(
        batch, faces, "solid", 1.0, "face_margin", 0.1, 0, "#000000", False, False, True, keep_frames=5)
    assert tuple(masked.shape) == tuple(batch.shape) and tuple(masks.shape) == (8, 240, 320)
    report = json.loads(report_text)
    assert report["temporal"] is True and [image["image"] for image in report["images"]] == list(range(8))
    assert all(float(mask.max()) > 0.5 for mask in masks), "every frame is masked"

    (video,) = CreateVideo().execute(masked, fps)
    compat.set_folders(None, tmp_path)
    try:
        saved = SaveVideo().execute(video, "vhs/clip")["ui"]["images"][0]
    finally:
        compat.set_folders(None, None)
    path = tmp_path / saved["subfolder"] / saved["filename"]
    assert count_frames(path) == 8 and _frame_rate(path) == 8 and audio_codec(path) is None


def test_load_video_reads_the_input_folder_and_get_video_components_gives_frames_audio_and_fps(clip):
    compat.set_folders(clip.parent, None)
    try:
        assert LoadVideo.INPUT_TYPES()["required"]["file"] == (["clip.mp4"], {"video_upload": True})
        assert LoadVideo.VALIDATE_INPUTS("clip.mp4") is True
        assert "not in the input folder" in LoadVideo.VALIDATE_INPUTS("other.mp4")
        assert LoadVideo.VALIDATE_INPUTS("../clip.mp4") is not True
        (video,) = LoadVideo().execute("clip.mp4")
    finally:
        compat.set_folders(None, None)
    assert video.get_dimensions() == (320, 240)
    images, audio, fps = GetVideoComponents().execute(video)
    assert tuple(images.shape) == (FRAMES, 240, 320, 3) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert fps == 12.0
    waveform = audio["waveform"]
    assert waveform.ndim == 3 and waveform.shape[0] == 1 and audio["sample_rate"] == 16000
    assert abs(waveform.shape[2] / 16000 - FRAMES / 12) < 0.1


def test_a_corrupt_video_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(VideoDecodeError, match="broken.mp4 is not a readable video"):
        VideoFile(broken, broken.name).get_components()


COMFYUI = Path(os.environ.get("PLAYALTER_COMFYUI", "/work/comfyui"))
COMFY_PYTHON = Path(os.environ.get("PLAYALTER_COMFY_PYTHON", "/work/venvs/comfy/bin/python"))


@pytest.mark.skipif(not (COMFYUI / "main.py").is_file() or not COMFY_PYTHON.is_file(),
                    reason="no ComfyUI checkout (PLAYALTER_COMFYUI) with its Python (PLAYALTER_COMFY_PYTHON)")
def test_the_saved_workflow_runs_in_real_comfyui(clip, tmp_path):
    """A copy of ComfyUI with this pack linked in; POST /prompt; the video keeps its frames and audio."""
    comfy = tmp_path / "ComfyUI"
    shutil.copytree(COMFYUI, comfy, symlinks=True, ignore=shutil.ignore_patterns("output", "temp", "user"))
    (comfy / "custom_nodes" / "ComfyUI-PlayAlter").unlink(missing_ok=True)
    (comfy / "custom_nodes" / "ComfyUI-PlayAlter").symlink_to(REPO)
    shutil.copy(clip, comfy / "input" / "clip.mp4")
    port = free_port()
    with open(tmp_path / "comfy.log", "wb") as log:
        server = subprocess.Popen([str(COMFY_PYTHON), "main.py", "--cpu", "--port", str(port), "--listen",
                                   "127.0.0.1"], cwd=comfy, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/system_stats", timeout=5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "comfy.log").read_text()
                time.sleep(0.5)
        prompt = json.loads(WORKFLOW.read_text())
        request = urllib.request.Request(f"{url}/prompt", data=json.dumps({"prompt": prompt}).encode(),
                                         headers={"Content-Type": "application/json"})
        prompt_id = json.loads(urllib.request.urlopen(request, timeout=30).read())["prompt_id"]
        deadline = time.monotonic() + 300
        while (status := json.loads(urllib.request.urlopen(f"{url}/history/{prompt_id}", timeout=30).read())
               .get(prompt_id, {}).get("status", {})).get("completed") is None:
            assert time.monotonic() < deadline, "ComfyUI did not finish the prompt"
            time.sleep(0.5)
        assert status["status_str"] == "success", status
    finally:
        server.terminate()
        server.wait(timeout=30)
    [video] = (comfy / "output" / "playalter").glob("privacy_video_*.mp4")
    assert count_frames(video) == FRAMES and audio_codec(video) == "aac"
