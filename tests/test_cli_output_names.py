"""Issue 12 item 10: inputs that share a name never overwrite each other's outputs, in every CLI command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playalter.runner.cli.main import main
from playalter.runner.engine.output_names import distinct_stems, write_new


@pytest.fixture()
def same_stem_photos(tmp_path, t1_image) -> list[Path]:
    photos = []
    for folder, fmt, suffix in (("a", "BMP", ".bmp"), ("b", "TIFF", ".tiff"), ("c", "WEBP", ".webp")):
        path = tmp_path / folder / f"photo{suffix}"
        path.parent.mkdir()
        Image.fromarray(t1_image).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        photos.append(path)
    return photos


def _printed_paths(output: str) -> list[Path]:
    return [Path(path) for path in re.findall(r"(\S+_(?:anonymized|privacy|faces)\.(?:png|json))", output)]


def test_anonymize_writes_one_file_per_input(same_stem_photos, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["anonymize", *map(str, same_stem_photos), "--out", str(out), "--audit"]) == 0
    printed = _printed_paths(capsys.readouterr().out)
    images = sorted(path.name for path in out.glob("*.png"))
    assert images == ["photo_bmp_anonymized.png", "photo_tiff_anonymized.png", "photo_webp_anonymized.png"]
    assert len(list(out.glob("*_privacy.json"))) == 3
    assert len(printed) == 6 and len(set(printed)) == 6 and all(path.is_file() for path in printed)
    reports = [json.loads(path.read_text()) for path in sorted(out.glob("*_privacy.json"))]
    assert sorted(Path(report["image"]).suffix for report in reports) == [".bmp", ".tiff", ".webp"]


def test_detect_writes_one_preview_and_report_per_input(same_stem_photos, tmp_path, capsys):
    out = tmp_path / "o"
    same = same_stem_photos + [same_stem_photos[0]]  # the same file twice, too
    assert main(["detect", *map(str, same), "--out", str(out)]) == 0
    printed = _printed_paths(capsys.readouterr().out)
    assert len(list(out.glob("*_faces.png"))) == 4 and len(list(out.glob("*_faces.json"))) == 4
    assert len(set(printed)) == 8 and all(path.is_file() for path in printed)


def test_distinct_stems_are_deterministic_and_case_insensitive():
    paths = [Path("a/Photo.JPG"), Path("b/photo.jpg"), Path("c/photo.png"), Path("photo_jpg.bmp"), Path("x/other.png")]
    names = distinct_stems(paths)
    assert names == ["Photo_jpg", "photo_jpg_2", "photo_png", "photo_jpg_3", "other"]
    assert distinct_stems(paths) == names
    assert len({name.lower() for name in names}) == len(names)
    assert distinct_stems([Path("a/photo.jpg"), Path("b/face.jpg")]) == ["photo", "face"]


def test_write_new_never_replaces_a_file(tmp_path):
    first = write_new(tmp_path / "result.png", b"one")
    second = write_new(tmp_path / "result.png", b"two")
    assert (first.name, second.name) == ("result.png", "result_2.png")
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"
    assert np.array_equal(np.frombuffer(second.read_bytes(), np.uint8), np.frombuffer(b"two", np.uint8))
