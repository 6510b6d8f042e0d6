"""Scale references beyond the iris: a known interpupillary distance, a known mm/px, a segment of known
length, and an ID-1 card found in the photo; each recovers a known length, a card that cannot be trusted
falls back to the iris with a warning, and bad requests are clear errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from card_drawing import card_outline, draw_card
from conftest import read_rgb, requires_face_mesh
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.card_detection import CARD_WIDTH_MM, find_card
from playalter.pipelines.engine.detection.api import detect_faces
from playalter.pipelines.engine.face_measurements import measure_face
from playalter.pipelines.engine.scale_reference import parse_scale

PHOTO = "exp_2.jpg"  # a frontal face, 450 x 450 px, with room beside it
@pytest.fixture(scope="module")
def photo(shared_fixtures) -> np.ndarray:
    return read_rgb(shared_fixtures / "faces" / PHOTO)


def _face(image: np.ndarray):
    faces = detect_faces(image, dense=True)
    assert faces and faces[0].mesh is not None
    return faces[0]


def _distances(result: dict) -> dict[str, float]:
    return {name: entry["value_mm"] for name, entry in result["measurements"].items()
            if entry.get("value_mm") is not None and name != "symmetry"}


@pytest.mark.parametrize(("width_px", "degrees", "centre"), [(150, 0, (80, 357)), (120, -25, (375, 375)),
                                                             (100, 40, (385, 120))])
def test_a_drawn_card_gives_its_scale(shared_fixtures, width_px, degrees, centre):
    photo = read_rgb(shared_fixtures / "faces" / PHOTO)
    face_box = np.array([98.0, 105.0, 325.0, 377.0])  # the face of exp_2.jpg
    card = find_card(draw_card(photo, card_outline(centre, width_px, degrees)), face_box)
    assert card is not None
    assert card.mm_per_px == pytest.approx(CARD_WIDTH_MM / width_px, rel=0.005)
    assert card.relative_sd < 0.01


def test_no_card_is_found_on_a_plain_photo(shared_fixtures):
    photo = read_rgb(shared_fixtures / "faces" / PHOTO)
    assert find_card(photo, np.array([98.0, 105.0, 325.0, 377.0])) is None


@requires_face_mesh
def test_every_reference_recovers_a_known_length(photo):
    """A known image scale of 0.2 mm/px, given four ways, gives the same millimetres."""
    face = _face(photo)
    known = measure_face(face, {"mm_per_px": 0.2})
    assert known["scale"] == {"mm_per_px": 0.2, "source": "known_mm_per_px", "relative_sd": 0.0}
    segment = measure_face(face, {"segment": [[10, 20], [310, 20]], "length_mm": 60.0})
    assert segment["scale"]["source"] == "segment" and segment["scale"]["mm_per_px"] == pytest.approx(0.2)
    assert segment["scale"]["relative_sd"] == pytest.approx(np.sqrt(2) / 300, rel=0.01)
    carded = draw_card(photo, card_outline((80, 357), CARD_WIDTH_MM / 0.6))  # 142.7 px wide: 0.6 mm/px
    card = measure_face(face, "card", carded)  # the face as found without the card: only the scale differs
    assert card["scale"]["source"] == "card" and "warning" not in card["scale"]
    assert card["scale"]["mm_per_px"] == pytest.approx(0.6, rel=0.005)
    assert len(card["scale"]["card_corners"]) == 4
    for name, value in _distances(known).items():
        assert _distances(segment)[name] == pytest.approx(value, abs=0.011)
        assert _distances(card)[name] == pytest.approx(3 * value, rel=0.005)
    ipd_px = known["measurements"]["interpupillary_distance"]["value_mm"] / 0.2
    given = measure_face(face, {"ipd_mm": 63.5})
    assert given["scale"]["source"] == "known_ipd"
    assert given["scale"]["mm_per_px"] == pytest.approx(63.5 / ipd_px, rel=0.001)
    restated = given["measurements"]["interpupillary_distance"]
    assert restated["value_mm"] == pytest.approx(63.5, abs=0.02)
    assert not restated["valid"] and "restates" in restated["reason"]


@requires_face_mesh
def test_a_missing_or_slanted_card_falls_back_to_the_iris_with_a_warning(photo):
    face = _face(photo)
    iris = measure_face(face)
    missing = measure_face(face, "card", photo)
    assert missing["scale"]["source"] == iris["scale"]["source"] == "iris"
    assert missing["scale"]["mm_per_px"] == iris["scale"]["mm_per_px"]
    assert "no ID-1 card" in missing["scale"]["warning"] and missing["scale"]["requested"] == "card"
    slanted = draw_card(photo, card_outline((80, 357), 140, squash=0.85))
    tilted = measure_face(face, "card", slanted)
    assert tilted["scale"]["source"] == "iris" and "too slanted" in tilted["scale"]["warning"]
    assert len(tilted["scale"]["card_corners"]) == 4


@requires_face_mesh
def test_a_card_without_the_photo_is_refused(photo):
    with pytest.raises(InvalidParameterError, match="needs the photo"):
        measure_face(_face(photo), "card")


@pytest.mark.parametrize("spec", [
    "ruler", "{not json", 3, [1, 2], {"ipd_mm": -63}, {"ipd_mm": "63"}, {"ipd_mm": True}, {"mm_per_px": 0},
    {"mm_per_px": float("nan")}, {"ipd_mm": 63, "mm_per_px": 0.2}, {"segment": [[0, 0], [10, 0]]},
    {"segment": [[0, 0]], "length_mm": 5}, {"segment": [[0, 0], [0.5, 0]], "length_mm": 5},
    {"segment": [[0, 0], ["a", 1]], "length_mm": 5}, {"length_mm": 85.6},
    {"segment": [[0, 0], [1e300, 0]], "length_mm": 5}, {"segment": [[0, 0], [float("inf"), 0]], "length_mm": 5},
])
def test_bad_scale_requests_are_clear_errors(spec):
    with pytest.raises(InvalidParameterError, match="scale"):
        parse_scale(spec)


def test_scale_requests_are_read_from_names_objects_and_json_text():
    assert parse_scale(None) == parse_scale("") == parse_scale("iris") == "iris"
    assert parse_scale(" card ") == parse_scale('"card"') == "card"
    assert parse_scale('{"ipd_mm": 63.5}') == {"ipd_mm": 63.5}
    assert parse_scale({"segment": [[1, 2], [3, 4.5]], "length_mm": 10}) == {
        "segment": [[1.0, 2.0], [3.0, 4.5]], "length_mm": 10.0}


@requires_face_mesh
def test_the_http_api_takes_every_scale_and_refuses_bad_ones(tmp_path, photo):
    import asyncio

    from server_app_helpers import b64, bearer, make_settings, running_app

    carded = draw_card(photo, card_outline((80, 357), CARD_WIDTH_MM / 0.6))
    ok, png = cv2.imencode(".png", carded[..., ::-1])
    ok_plain, plain = cv2.imencode(".png", photo[..., ::-1])
    assert ok and ok_plain

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            async def analyze(**body):
                return await client.post("/api/face/analyze", headers=bearer(key),
                                         json={"image_base64": b64(png.tobytes()), **body})

            answers = {}
            for name, scale in (("card", "card"), ("segment", {"segment": [[0, 0], [300, 0]], "length_mm": 60})):
                response = await analyze(scale=scale)
                assert response.status == 200, await response.text()
                answers[name] = (await response.json())["faces"][0]["measurements"]["scale"]
            assert answers["card"]["source"] == "card" and len(answers["card"]["card_corners"]) == 4
            assert answers["card"]["mm_per_px"] == pytest.approx(0.6, rel=0.005)
            assert answers["segment"]["source"] == "segment" and answers["segment"]["mm_per_px"] == 0.2
            assert "warnings" not in answers
            missing = await client.post("/api/face/analyze", headers=bearer(key),
                                        json={"image_base64": b64(plain.tobytes()), "scale": "card"})
            body = await missing.json()
            assert missing.status == 200 and body["faces"][0]["measurements"]["scale"]["source"] == "iris"
            assert len(body["warnings"]) == 1 and "no ID-1 card" in body["warnings"][0]
            for bad in ({"ipd_mm": -1}, "ruler", {"mm_per_px": 0.2, "ipd_mm": 60},
                        {"segment": [[0, 0], [0, 0]], "length_mm": 5}):
                response = await analyze(scale=bad)
                assert response.status == 400, (bad, await response.text())
                body = await response.json()
                assert body["error"]["code"] in ("invalid_request", "invalid_parameter")
                assert "scale" in body["error"]["message"]
            flame = await analyze(scale="card", measurement_model="flame")
            assert flame.status == 400

    asyncio.run(scenario())


@requires_face_mesh
def test_the_node_takes_a_scale_and_the_photo(photo):
    import torch

    from playalter.nodes.flame import PlayAlterFaceMeasurements

    carded = draw_card(photo, card_outline((80, 357), CARD_WIDTH_MM / 0.6))
    faces = [[_face(photo)]]
    image = torch.from_numpy(carded.astype(np.float32)[None] / 255)  # [1,H,W,3]
    [result], _ = PlayAlterFaceMeasurements().measure(faces=faces, image=image, scale="card")
    assert result["scale"]["source"] == "card"
    [result], _ = PlayAlterFaceMeasurements().measure(faces=faces, scale='{"mm_per_px": 0.25}')
    assert result["scale"]["mm_per_px"] == 0.25
    with pytest.raises(InvalidParameterError, match="scale"):
        PlayAlterFaceMeasurements().measure(faces=faces, scale='{"mm_per_px": -1}')


@requires_face_mesh
def test_the_cli_takes_a_scale_and_warns_when_the_card_is_missing(tmp_path, photo, capsys):
    from playalter.runner.cli.main import main

    path = tmp_path / "face.png"
    cv2.imwrite(str(path), photo[..., ::-1])
    assert main(["analyze", str(path), "--out", str(tmp_path / "out"), "--scale", '{"mm_per_px": 0.2}']) == 0
    report = json.loads((tmp_path / "out" / "face_analysis.json").read_text())
    assert report["faces"][0]["measurements"]["scale"]["source"] == "known_mm_per_px"
    assert main(["analyze", str(path), "--out", str(tmp_path / "out"), "--scale", "card"]) == 0
    assert "no ID-1 card" in capsys.readouterr().err
    assert main(["analyze", str(path), "--out", str(tmp_path / "out"), "--scale", "ruler"]) == 2
    assert "scale must be" in capsys.readouterr().err


@requires_face_mesh
@pytest.mark.parametrize("spec", [{"mm_per_px": 1e-9}, {"mm_per_px": 1e9}, {"ipd_mm": 1e-6},
                                  {"segment": [[0, 0], [1e6, 0]], "length_mm": 1}])
def test_an_absurd_scale_is_a_clear_error(photo, spec):
    with pytest.raises(InvalidParameterError, match="mm per pixel"):
        measure_face(_face(photo), spec)
