"""The measurement sheet draws exactly the valid measurements as valid callipers and the flagged ones as
flagged callipers, on the photo and on the mesh views, with the scale reference; on the node, over HTTP
and from the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import read_rgb, requires_face_mesh
from playalter.pipelines.engine.detection.api import detect_faces
from playalter.pipelines.engine.face_measurements import measure_face
from playalter.pipelines.engine.measurement_sheet import (FLAGGED_COLOUR, MIN_PHOTO_HEIGHT, SCALE_COLOUR,
                                                          VALID_COLOUR, VIEW_SIDE, draw_measurement_sheet,
                                                          face_callipers)

PHOTO = "exp_2.jpg"


@pytest.fixture(scope="module")
def photo_and_face(shared_fixtures):
    photo = read_rgb(shared_fixtures / "faces" / PHOTO)
    faces = detect_faces(photo, dense=True)
    assert faces and faces[0].mesh is not None
    return photo, faces[0]


def _has(pixels: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.all(pixels == np.asarray(colour, np.uint8), axis=-1).any())


def _zoom(photo: np.ndarray) -> float:
    return max(1.0, MIN_PHOTO_HEIGHT / photo.shape[0])


def _parts(sheet: np.ndarray, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sheet's photo area (the photo enlarged to MIN_PHOTO_HEIGHT when it was smaller) and the
    area of the mesh views beside it (one face: one row)."""
    width = int(round(photo.shape[1] * _zoom(photo)))
    return sheet[:, :width], sheet[:VIEW_SIDE, width:width + 2 * VIEW_SIDE]


def _drawable(result: dict) -> dict[str, bool]:
    """{name: valid} of the distances with two end points: every one of them must get a calliper."""
    return {name: entry["valid"] for name, entry in result["measurements"].items()
            if entry.get("value_mm") is not None
            and (len(entry.get("landmark_ids") or []) == 2 or name == "interpupillary_distance")}


@requires_face_mesh
@pytest.mark.parametrize("mm_per_px", [0.05, 0.61])  # 0.05: every distance implausibly small, all flagged
def test_the_sheet_draws_exactly_the_valid_measurements(photo_and_face, mm_per_px):
    photo, face = photo_and_face
    result = measure_face(face, {"mm_per_px": mm_per_px})
    callipers = face_callipers(face, result)
    assert {calliper.name: calliper.valid for calliper in callipers} == _drawable(result)
    valid = [calliper for calliper in callipers if calliper.valid]
    flagged = [calliper for calliper in callipers if not calliper.valid]
    assert all(result["measurements"][calliper.name]["reason"] in calliper.text for calliper in flagged)
    if mm_per_px == 0.05:
        assert not valid and flagged
    else:
        assert len(valid) >= 12
    drawn, views = _parts(draw_measurement_sheet(photo, [face], [result]), photo)
    assert _has(drawn, VALID_COLOUR) == bool(valid)
    assert _has(drawn, FLAGGED_COLOUR) == bool(flagged)
    assert _has(views, VALID_COLOUR) == any(calliper.vertices for calliper in valid)
    assert _has(views, FLAGGED_COLOUR) == any(calliper.vertices for calliper in flagged)


@requires_face_mesh
def test_the_sheet_draws_the_scale_reference(photo_and_face):
    photo, face = photo_and_face
    segment = measure_face(face, {"segment": [[20, 430], [220, 430]], "length_mm": 100})
    sheet = draw_measurement_sheet(photo, [face], [segment])
    zoom = _zoom(photo)
    row = int(round(430 * zoom))
    assert _has(sheet[row - 1:row + 2, int(40 * zoom):int(200 * zoom)], SCALE_COLOUR)
    unmeasured = draw_measurement_sheet(photo, [face], [None])
    assert not _has(unmeasured, VALID_COLOUR) and not _has(unmeasured, SCALE_COLOUR)


@requires_face_mesh
def test_the_node_gives_one_sheet_per_photo(photo_and_face):
    import torch

    from playalter.nodes.flame import PlayAlterMeasurementSheet

    photo, face = photo_and_face
    image = torch.from_numpy(np.stack([photo, photo[::-1].copy()]).astype(np.float32) / 255)  # [2,H,W,3]
    measurements = [{"image": 0, "face": 0, **measure_face(face)}]
    (sheets,) = PlayAlterMeasurementSheet().draw(image, [[face], []], measurements)
    assert sheets.shape[0] == 2 and sheets.shape[-1] == 3 and sheets.shape[2] > photo.shape[1]
    first = (sheets[0].numpy() * 255).round().astype(np.uint8)
    assert _has(first, VALID_COLOUR)


@requires_face_mesh
def test_the_sheet_comes_over_http_on_request_and_from_the_cli(tmp_path, photo_and_face, capsys):
    import asyncio

    import cv2

    from playalter.runner.cli.main import main
    from server_app_helpers import b64, bearer, make_settings, running_app

    photo, _ = photo_and_face
    ok, png = cv2.imencode(".png", photo[..., ::-1])
    assert ok

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            titles = {}
            for include in (False, True):
                response = await client.post("/api/face/analyze", headers=bearer(key),
                                             json={"image_base64": b64(png.tobytes()), "include_sheet": include})
                assert response.status == 200, await response.text()
                titles[include] = [image["title"] for image in (await response.json())["images"]]
            assert "sheet" in titles[True] and "sheet" not in titles[False]

    asyncio.run(scenario())
    path = tmp_path / "face.png"
    path.write_bytes(png.tobytes())
    assert main(["analyze", str(path), "--out", str(tmp_path / "out")]) == 0
    sheet = read_rgb(tmp_path / "out" / "face_sheet.png")
    assert sheet.shape[1] > photo.shape[1] and _has(sheet, VALID_COLOUR)


@requires_face_mesh
def test_the_nodes_refuse_faces_of_another_batch(photo_and_face):
    """FACES for one image with a batch of two: a clear error, not one sheet (or a measured frame) dropped."""
    import torch

    from playalter.nodes.flame import PlayAlterFaceMeasurements, PlayAlterMeasurementSheet
    from playalter.pipelines.core.errors import InvalidParameterError

    photo, face = photo_and_face
    image = torch.from_numpy(np.stack([photo, photo]).astype(np.float32) / 255)  # [2,H,W,3]
    with pytest.raises(InvalidParameterError, match="FACES describe 1 images but the IMAGE batch has 2"):
        PlayAlterMeasurementSheet().draw(image, [[face]], [])
    for fuse in (False, True):
        with pytest.raises(InvalidParameterError, match="FACES describe 1 images but the IMAGE batch has 2"):
            PlayAlterFaceMeasurements().measure(faces=[[face]], image=image, fuse=fuse)
    with pytest.raises(InvalidParameterError, match="FACES describe 2 images but the FLAME fit 1"):
        PlayAlterFaceMeasurements().measure(flame_fit=[[]], faces=[[face], [face]])
