"""The classical swap warps the dense MediaPipe mesh: on real photos the warped face lands on the target's
geometry and nothing outside the face changes."""

from __future__ import annotations

import numpy as np
import pytest

from playalter.pipelines.engine import face_mesh
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.engine.face_mesh_scheme import IBUG68
from playalter.pipelines.swap import classical
from playalter.pipelines.swap.blend import BlendOptions, blend
from playalter.pipelines.swap.pipeline import Source, SwapOptions, swap_faces

from conftest import requires_face_mesh

pytestmark = requires_face_mesh
INNER = IBUG68[17:]  # [51] brows, nose, eyes, lips: the mesh vertices the re-detection checks


@pytest.fixture(scope="module")
def t1_faces(t1_image):
    return detect_faces(t1_image, order="left_to_right")


def test_dense_warp_changes_the_face_and_keeps_the_outside(t1_image, t1_faces):
    source, target = t1_faces[0], t1_faces[2]
    assert classical.warp_kind(source, target) == "classical_dense"
    source_points, target_points = classical.corresponding_points(source, target)
    assert source_points.shape == target_points.shape == (468, 2)
    plain = BlendOptions(occlusion=False, mouth=False)
    result = blend(t1_image, classical.swap(t1_image, source, t1_image, target), target, plain)
    np.testing.assert_array_equal(result.image[~result.mask], t1_image[~result.mask])
    columns, rows = np.round(target.mesh[:, :2]).astype(int).T
    assert result.mask[rows, columns][INNER].mean() > 0.9  # the hull vertices may fall in the feathered rim
    assert np.abs(result.image[result.mask].astype(int) - t1_image[result.mask]).mean() > 8


def test_the_swapped_face_has_the_target_geometry(t1_image, t1_faces):
    """Dense landmarks found again on the result sit where the target's were, not where the source's were."""
    source, target = t1_faces[0], t1_faces[2]
    plain = BlendOptions(color="lab", feather=0.0, occlusion=False, mouth=False, sharpen=0.0)
    result = blend(t1_image, classical.swap(t1_image, source, t1_image, target), target, plain)
    again = face_mesh.dense_landmarks(result.image, target.bbox, target.kps).points[INNER, :2]  # [51,2]
    eye_distance = float(np.linalg.norm(target.mesh[33, :2] - target.mesh[263, :2]))
    error = np.linalg.norm(again - target.mesh[INNER, :2], axis=1)  # [51] px
    print(f"re-detected inner points: median {np.median(error):.2f} px, eye distance {eye_distance:.1f} px")
    assert np.median(error) < 0.08 * eye_distance, f"median {np.median(error):.1f} px"


def test_the_report_names_the_dense_warp(t1_image, t1_faces):
    _, report = swap_faces(t1_image, t1_faces, [Source(image=t1_image, face=t1_faces[0], label="s")],
                           SwapOptions(method="classical", target_indices="2"))
    assert report["method"] == "classical"
    assert [entry["warp"] for entry in report["swaps"]] == ["classical_dense"]
