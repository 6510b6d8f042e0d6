"""detect_faces(dense="mesh"): the privacy masks' mesh without irises and mirror averaging, same outline."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from playalter.pipelines.engine import face_regions
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.privacy import PrivacyOptions, anonymize

from conftest import requires_face_mesh, shared_face_photos


def hull_mask(shape: tuple[int, ...], mesh: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(face_regions.mesh_hull(mesh, 0.2)).astype(np.int32), 1)
    return mask.astype(bool)


@requires_face_mesh
@pytest.mark.parametrize("photo", shared_face_photos()[:3], ids=lambda path: path.name)
def test_mesh_level_has_no_iris_and_the_same_outline(photo):
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    full = detect_faces(image, backend="centerface", analyse=False, dense=True)
    light = detect_faces(image, backend="centerface", analyse=False, dense="mesh")
    assert len(full) == len(light) >= 1
    meshed = [(complete, mesh_only) for complete, mesh_only in zip(full, light) if complete.mesh is not None]
    assert meshed
    for complete, mesh_only in meshed:
        assert complete.iris is not None and mesh_only.iris is None
        assert mesh_only.mesh.shape == (468, 3)
        first, second = hull_mask(image.shape, complete.mesh), hull_mask(image.shape, mesh_only.mesh)
        assert (first & second).sum() / (first | second).sum() >= 0.93
    options = PrivacyOptions("blur")
    sources = [face["sources"] for face in anonymize(image, light, options).faces]
    assert "mesh_468" in sources[light.index(meshed[0][1])]


def test_unknown_dense_level_is_refused():
    with pytest.raises(InvalidParameterError, match="dense must be"):
        detect_faces(np.zeros((64, 64, 3), np.uint8), backend="centerface", dense="iris")


@requires_face_mesh
def test_outline_meshes_of_a_batch_match_each_face_alone(t1_image):
    from playalter.pipelines.engine import face_mesh

    faces = detect_faces(t1_image, backend="centerface", analyse=False, dense=False)
    boxes, kps = np.array([face.bbox for face in faces]), np.array([face.kps for face in faces])
    together = face_mesh.outline_meshes(t1_image, boxes, kps)
    assert len(together) == len(faces) >= 6
    for index, batched in enumerate(together):
        [alone] = face_mesh.outline_meshes(t1_image, boxes[index:index + 1], kps[index:index + 1])
        assert np.abs(batched.points - alone.points).max() < 0.05 and abs(batched.score - alone.score) < 1e-3
        assert batched.iris is None
    assert face_mesh.outline_meshes(t1_image, boxes[:0], kps[:0]) == []
