"""The Face Restore node through ComfyUI tensors, with a stand-in GFPGAN (tests/restore_models.py)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from playalter.nodes import NODE_CLASS_MAPPINGS
from playalter.nodes.restore import PlayAlterFaceRestore
from playalter.nodes.tensors import image_batch_to_numpy, numpy_to_image_batch
from playalter.pipelines.core import config
from playalter.pipelines.core.errors import InvalidParameterError, ModelMissingError
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.swap.blend import region

from restore_models import install_restorer

SETTINGS = dict(model="gfpgan_1.4", strength=1.0, codeformer_fidelity=0.5, feather=0.0)


@pytest.fixture(scope="module")
def t1_faces(t1_image):
    return detect_faces(t1_image, order="left_to_right")


def _changed_faces(output: np.ndarray, image: np.ndarray, faces) -> list[int]:
    changed = []
    for index, face in enumerate(faces):
        x1, y1, x2, y2 = face.bbox.astype(int)
        if np.abs(output[y1:y2, x1:x2].astype(int) - image[y1:y2, x1:x2]).mean() > 20:
            changed.append(index)
    return changed


def test_node_is_registered():
    assert NODE_CLASS_MAPPINGS["PlayAlterFaceRestore"] is PlayAlterFaceRestore
    inputs = PlayAlterFaceRestore.INPUT_TYPES()
    assert inputs["required"]["model"][0][0] == "gfpgan_1.4" and "faces" in inputs["optional"]


def test_given_faces_only_else_every_face(tmp_path, monkeypatch, t1_image, t1_faces):
    install_restorer(tmp_path / "models", monkeypatch, "gfpgan_1.4", scale=-1.0)
    tensor = numpy_to_image_batch([t1_image])
    image, report_json = PlayAlterFaceRestore().restore(tensor, faces=[[t1_faces[1], t1_faces[3]]], **SETTINGS)
    output = image_batch_to_numpy(image)[0]
    assert _changed_faces(output, t1_image, t1_faces) == [1, 3]
    assert len(json.loads(report_json)["images"][0]["faces"]) == 2
    image, report_json = PlayAlterFaceRestore().restore(tensor, **SETTINGS)  # detected inside the node
    assert _changed_faces(image_batch_to_numpy(image)[0], t1_image, t1_faces) == list(range(len(t1_faces)))


def test_missing_model_is_a_clear_error(tmp_path, monkeypatch, t1_image, t1_faces):
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "empty"))
    config.reset_settings()
    with pytest.raises(ModelMissingError, match="facerestore_models"):
        PlayAlterFaceRestore().restore(numpy_to_image_batch([t1_image]), faces=[t1_faces],
                                       **{**SETTINGS, "model": "codeformer"})



def test_faces_off_the_image_are_named_before_any_model_loads(tmp_path, monkeypatch, t1_image, t1_faces):
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "empty"))
    config.reset_settings()
    one_spot = dataclasses.replace(t1_faces[1], kps=np.repeat(t1_faces[1].kps[:1], 5, axis=0))
    with pytest.raises(InvalidParameterError, match="face 1 of the image 0 has its five keypoints on one spot"):
        PlayAlterFaceRestore().restore(numpy_to_image_batch([t1_image]), faces=[[t1_faces[0], one_spot]], **SETTINGS)

def test_face_swap_node_restores_what_it_swapped(tmp_path, monkeypatch, t1_image, t1_faces):
    from playalter.nodes.swap import PlayAlterFaceSwap
    from swap_models import install_inswapper

    install_inswapper(tmp_path / "models", monkeypatch)
    install_restorer(tmp_path / "models", monkeypatch, "codeformer")
    tensor = numpy_to_image_batch([t1_image])
    source_face = dataclasses.replace(t1_faces[0], embedding=np.ones(512, np.float32) / np.sqrt(512))  # as buffalo_l
    faces = [[source_face, *t1_faces[1:]]]
    common = dict(method="inswapper", source_indices="0", target_indices="2", pairing="index", average_sources=False,
                  color_correction="none", blend_mode="feather", feather=0.06, occlusion=False, mouth=False,
                  sharpen=0.0, denoise=0.0, source=tensor, source_faces=faces, target_faces=faces)
    plain, _ = PlayAlterFaceSwap().swap(tensor, **common)
    restored, report_json = PlayAlterFaceSwap().swap(tensor, restore_model="codeformer", restore_strength=1.0,
                                                     codeformer_fidelity=0.0, **common)
    swap = json.loads(report_json)["images"][0]["swaps"][0]
    assert swap["restored"] == {"model": "codeformer", "strength": 1.0}
    plain, restored = image_batch_to_numpy(plain)[0], image_batch_to_numpy(restored)[0]
    changed = np.any(plain != restored, axis=2)  # fidelity 0: the stand-in returns mid-grey inside the face
    x1, y1, x2, y2 = region(t1_faces[2], t1_image.shape)  # the face's outline with a margin
    face_width, face_height = t1_faces[2].width, t1_faces[2].height
    assert changed.sum() > 0.3 * face_width * face_height and changed[y1:y2, x1:x2].sum() == changed.sum()
    nose_x, nose_y = t1_faces[2].kps[2].astype(int)  # deep inside: fully restored
    assert np.abs(restored[nose_y - 5:nose_y + 5, nose_x - 5:nose_x + 5].astype(int) - 128).max() <= 1


def test_the_face_restore_workflow_restores_every_detected_face(tmp_path, monkeypatch, t1_path, t1_image, t1_faces):
    from pathlib import Path

    from conftest import read_rgb
    from playalter.runner.engine.executor import execute

    install_restorer(tmp_path / "models", monkeypatch, "gfpgan_1.4", scale=-1.0)
    workflow = Path(__file__).resolve().parents[1] / "workflows" / "api" / "face_restore.json"
    result = execute(workflow, bindings={"image": t1_path, "restore.feather": 0.0}, input_dir=tmp_path / "in",
                     output_dir=tmp_path / "out", temp_dir=tmp_path / "temp")
    saved = [ref.path for entry in result.outputs.values() for ref in entry["images"]]
    [picture] = [path for path in saved if Path(path).suffix == ".png"]
    assert _changed_faces(read_rgb(Path(picture)), t1_image, t1_faces) == list(range(len(t1_faces)))
