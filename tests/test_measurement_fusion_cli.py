"""``playalter analyze --fuse``: photos and a video of one person give one fused report and sheet; another
person is refused by name; a video without --fuse is a clear error."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from playalter.runner.cli.main import main

from conftest import requires_face_mesh
from mp4_clip import write_clip

pytestmark = requires_face_mesh


@pytest.fixture(scope="module")
def photos(astronaut_image, tmp_path_factory):
    """Three copies of the astronaut's head: as is, smaller, mirrored (BGR files)."""
    folder = tmp_path_factory.mktemp("fuse")
    head = cv2.cvtColor(np.ascontiguousarray(astronaut_image[0:280, 90:370]), cv2.COLOR_RGB2BGR)
    copies = {"a.jpg": head, "b.png": cv2.resize(head, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA),
              "c.jpg": np.ascontiguousarray(head[:, ::-1])}
    for name, image in copies.items():
        cv2.imwrite(str(folder / name), image)
    return [folder / name for name in copies]


def _fused_record(folder) -> dict:
    report = json.loads((folder / "fused_analysis.json").read_text())
    assert (folder / "fused_sheet.png").stat().st_size > 0
    [record] = report["faces"]
    return {**record["measurements"], "fused": report["fused"]}


def test_photos_are_fused(photos, tmp_path, capsys):
    assert main(["analyze", *map(str, photos), "--fuse", "--out", str(tmp_path)]) == 0
    measurements = _fused_record(tmp_path)
    assert measurements["fused"] == ["a.jpg", "b.png", "c.jpg"]
    assert measurements["fusion"]["frames"] == 3
    width = measurements["values"]["biocular_width"]
    assert width["valid"] and 1 <= width["fusion"]["frames"] <= 3 and width["fusion"]["scale_sd"] > 0
    assert "3 frame(s) of one person fused" in capsys.readouterr().out


def test_a_video_is_fused(astronaut_image, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", np.ascontiguousarray(astronaut_image[0:280, 90:370]), frames=8,
                      width=320, height=320, audio=False)
    assert main(["analyze", str(clip), "--fuse", "--frames", "4", "--out", str(tmp_path / "out")]) == 0
    measurements = _fused_record(tmp_path / "out")
    assert measurements["fused"] == [f"clip.mp4 frame {number}" for number in (0, 2, 4, 6)]
    assert measurements["values"]["biocular_width"]["valid"]


def test_another_person_and_a_video_without_fuse_are_refused(photos, t1_path, tmp_path, capsys):
    assert main(["analyze", str(photos[0]), str(t1_path), "--fuse", "--out", str(tmp_path)]) == 2
    assert "the photos must show one person" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "clip.mp4"), "--out", str(tmp_path)]) == 2
    assert "videos are measured with --fuse" in capsys.readouterr().err
    assert main(["analyze", str(photos[0]), "--fuse", "--scale", '{"mm_per_px": 0.2}', "--out", str(tmp_path)]) == 2
    assert "describes one photo" in capsys.readouterr().err
