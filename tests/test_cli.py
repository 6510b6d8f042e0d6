"""The ``playalter`` command: help, version, and the quick-start ``detect`` job."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from playalter import __version__
from playalter.runner.cli.main import main


def test_help_lists_the_subcommands(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for command in ("config", "detect", "models", "version"):
        assert command in out


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"playalter {__version__}\n"


def test_console_script_module_runs():
    result = subprocess.run([sys.executable, "-m", "playalter.runner.cli.main", "version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"playalter {__version__}"


def test_detect_on_the_sample_photo_writes_preview_and_json(t1_path, t1_image, tmp_path, capsys):
    assert main(["detect", "--out", str(tmp_path)]) == 0
    assert "t1.jpg: 6 face(s)" in capsys.readouterr().out
    report = json.loads((tmp_path / "t1_faces.json").read_text(encoding="utf-8"))
    assert report["face_count"] == 6 and len(report["faces"]) == 6
    assert (report["width"], report["height"]) == (t1_image.shape[1], t1_image.shape[0])
    areas = [(face["bbox"][2] - face["bbox"][0]) * (face["bbox"][3] - face["bbox"][1]) for face in report["faces"]]
    assert areas == sorted(areas, reverse=True)  # default order: largest first
    preview = np.asarray(Image.open(tmp_path / "t1_faces.png").convert("RGB"))
    assert preview.shape == t1_image.shape
    x1, y1, x2, y2 = (int(round(value)) for value in report["faces"][0]["bbox"])
    changed = np.any(preview != t1_image, axis=2)  # [H,W]: where boxes and points were drawn
    assert changed[y1 - 1:y1 + 2, x1:x2].mean() > 0.9  # the top edge of face 0's box
    assert not changed[t1_image.shape[0] - 40:, :40].any()  # a corner far from every face is untouched


def test_detect_on_given_photos(astronaut_image, tmp_path, capsys):
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut_image).save(photo)
    assert main(["detect", str(photo), "--out", str(tmp_path / "out"), "--backend", "centerface"]) == 0
    report = json.loads((tmp_path / "out" / "astronaut_faces.json").read_text(encoding="utf-8"))
    assert report["face_count"] == 1 and report["detector"] == "centerface"


def test_detect_rejects_a_bad_photo_with_a_clear_message(tmp_path, capsys):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo", encoding="utf-8")
    assert main(["detect", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "notes.jpg is not an image" in err and "Traceback" not in err


def test_an_output_folder_that_cannot_be_made_is_one_line_not_a_traceback(t1_path, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way", encoding="utf-8")
    assert main(["detect", str(t1_path), "--out", str(blocker / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(blocker / "out") in err and len(err.strip().splitlines()) == 1, err


def test_keys_against_a_missing_or_damaged_database_are_one_line_and_create_nothing(tmp_path, capsys):
    missing = tmp_path / "typo" / "keys.sqlite3"
    assert main(["keys", "list", "--db", str(missing)]) == 2
    assert not missing.parent.exists(), "listing a mistyped path creates nothing"
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    for command in (["keys", "list", "--db", str(damaged)], ["keys", "revoke", "abc", "--db", str(damaged)],
                    ["keys", "create", "--tier", "basic", "--db", str(damaged)]):
        assert main(command) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("error: ") for line in lines), lines
    assert "no key database" in lines[0] and "Traceback" not in "".join(lines)
