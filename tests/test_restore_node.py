"""The Face Restore node through ComfyUI tensors, with a stand-in GFPGAN (tests/restore_models.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playalter.nodes import NODE_CLASS_MAPPINGS
from playalter.nodes.restore import PlayAlterFaceRestore
from playalter.nodes.tensors import image_batch_to_numpy, numpy_to_image_batch
from playalter.pipelines.core import config
from playalter.pipelines.core.errors import ModelMissingError
from playalter.pipelines.engine.detection import detect_faces

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
