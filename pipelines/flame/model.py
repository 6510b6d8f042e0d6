"""Linear morphable face models the fitter accepts: FLAME, and any plain mean + shape + expression model.

A ``LinearModel`` gives, for coefficients alpha [S] (shape) and beta [E] (expression), the neutral-pose
mesh ``mean + shape_basis @ alpha + expression_basis @ beta`` (metres), plus where the 68 iBUG landmarks
sit on it (each a weighted sum of three vertices) and, for the jaw contour, candidate vertices per contour
point. FLAME adds an articulation (joints, skinning weights, pose correctives) for neck, jaw and eyes.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import landmarks
from .loading import N_SHAPE, FlameModel


@dataclass(frozen=True)
class Articulation:
    """FLAME's skeleton: J = 5 joints (root, neck, jaw, left eye, right eye)."""

    posedirs: np.ndarray  # [V*3,36]
    J_regressor: np.ndarray  # [J,V]
    parents: np.ndarray  # [J]
    weights: np.ndarray  # [V,J]


@dataclass(frozen=True, eq=False)
class Embedding:
    """A landmark set on the model's surface: L points, each a weighted sum of three vertices.

    name              "ibug68" or "mediapipe468"
    vertices, weights [L,3] vertex ids and barycentric weights (zero rows: a point the model does not define)
    contour           [L] candidate vertex ids for points that slide along the silhouette (None: fixed)
    eye_corners       rows of the two outer eye corners (the inter-ocular distance scales the noise)
    point_weights     [L] prior confidence of each point (0.5 for silhouette points of the dense set)
    source            [L] index of the detector point each row observes (MediaPipe vertex), or None
    cull_back_facing  give zero weight, at every step, to points whose surface faces away from the camera
                      (dense detectors place points on the far side of a turned face too)
    """

    name: str
    vertices: np.ndarray
    weights: np.ndarray
    contour: tuple[np.ndarray | None, ...]
    eye_corners: tuple[int, int]
    point_weights: np.ndarray
    source: np.ndarray | None = None
    cull_back_facing: bool = False

    def __len__(self) -> int:
        return len(self.vertices)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: the fitter caches per model
class LinearModel:
    """mean [V,3] metres; shape_basis [V,3,S]; expression_basis [V,3,E]; triangles [F,3];
    landmark_vertices / landmark_weights [68,3]: iBUG point k = sum_i w[k,i] * vertex[ids[k,i]]
    (rows of a landmark the model does not define have zero weights);
    contour [17] arrays of candidate vertex ids for iBUG 1-17 (None: use the fixed landmark);
    dense: the MediaPipe 468 embedding when the model has one (FLAME);
    coefficient priors are N(0, 1) for both bases (bases are scaled by their standard deviations)."""

    name: str
    mean: np.ndarray
    shape_basis: np.ndarray
    expression_basis: np.ndarray
    triangles: np.ndarray
    landmark_vertices: np.ndarray
    landmark_weights: np.ndarray
    contour: tuple[np.ndarray | None, ...]
    articulation: Articulation | None = None
    dense: Embedding | None = None

    @functools.cached_property
    def ibug68(self) -> Embedding:
        """The 68 iBUG points as an Embedding (contour candidates on iBUG 1-17)."""
        contour = tuple(self.contour) + (None,) * (68 - len(self.contour))
        return Embedding("ibug68", self.landmark_vertices, self.landmark_weights, contour, (36, 45), np.ones(68))

    @property
    def n_vertices(self) -> int:
        return self.mean.shape[0]

    @property
    def n_shape(self) -> int:
        return self.shape_basis.shape[2]

    @property
    def n_expression(self) -> int:
        return self.expression_basis.shape[2]

    def defined_landmarks(self) -> np.ndarray:
        """Boolean [68]: which iBUG points the model defines."""
        return self.landmark_weights.sum(axis=1) > 0

    def truncated(self, n_shape: int, n_expression: int) -> "LinearModel":
        """The same model keeping only the first n_shape / n_expression components."""
        return LinearModel(self.name, self.mean, self.shape_basis[:, :, :n_shape],
                           self.expression_basis[:, :, :n_expression], self.triangles, self.landmark_vertices,
                           self.landmark_weights, self.contour, self.articulation, self.dense)

    def neutral_vertices(self, shape: np.ndarray, expression: np.ndarray | None = None) -> np.ndarray:
        """[V,3] in metres, zero pose."""
        vertices = self.mean + self.shape_basis[:, :, :len(shape)] @ shape
        if expression is not None and len(expression):
            vertices = vertices + self.expression_basis[:, :, :len(expression)] @ expression
        return vertices


def from_flame(flame: FlameModel) -> LinearModel:
    """FLAME with PLAYALTER's 68-landmark embedding and jaw-contour candidates."""
    triangles = np.asarray(landmarks.IBUG68_TRIANGLES)
    return LinearModel(
        name=f"flame:{Path(flame.source).name}" if flame.source else "flame",
        mean=flame.v_template,
        shape_basis=flame.shapedirs[:, :, :N_SHAPE],
        expression_basis=flame.shapedirs[:, :, N_SHAPE:],
        triangles=flame.f,
        landmark_vertices=flame.f[triangles],
        landmark_weights=np.asarray(landmarks.IBUG68_BARYCENTRIC, dtype=np.float64),
        contour=tuple(np.asarray(row, dtype=np.int64) for row in landmarks.CONTOUR_CANDIDATES),
        articulation=Articulation(flame.posedirs, flame.J_regressor, flame.kintree, flame.weights),
        dense=mediapipe_embedding(flame.f),
    )


def mediapipe_embedding(triangles: np.ndarray) -> Embedding:
    """The MediaPipe 468 points that have a place on FLAME (``landmarks.mediapipe_468``) on FLAME's triangles."""
    table = landmarks.mediapipe_468()
    source = table["mesh_index"].astype(np.int64)  # [L]
    corners = tuple(int(np.nonzero(source == index)[0][0]) for index in (33, 263))  # outer eye corners
    return Embedding("mediapipe468", np.asarray(triangles)[table["triangle"]].astype(np.int64),
                     table["barycentric"].astype(np.float64), (None,) * len(source), corners,
                     table["weight"].astype(np.float64), source, cull_back_facing=True)


def load_sfm(npz_path: str | Path, contours_path: str | Path | None = None) -> LinearModel:
    """The Surrey Face Model from its plain-array form (``sfm_3448.npz``, millimetres -> metres).

    iBUG 1-8 (subject's right contour) may take any vertex of the model's right contour list, iBUG 10-17
    any of the left list (``sfm_model_contours.json``); iBUG 9 is mapped directly.
    """
    data = np.load(npz_path, allow_pickle=False)
    mean = data["mean"] / 1000.0  # [V,3]
    shape_basis = data["basis_rescaled"] / 1000.0  # [V,3,63]
    expression_basis = np.transpose(data["expression_blendshapes"], (1, 2, 0)) / 1000.0  # [V,3,6]
    ids = np.zeros((68, 3), dtype=np.int64)
    weights = np.zeros((68, 3))
    for landmark_id, vertex_id in zip(data["ibug_landmark_ids"], data["ibug_vertex_ids"]):
        ids[int(landmark_id) - 1] = int(vertex_id)
        weights[int(landmark_id) - 1, 0] = 1.0
    contour: list[np.ndarray | None] = [None] * 17
    if contours_path is not None:
        lists = json.loads(Path(contours_path).read_text())["model_contour"]
        right = np.asarray(lists["right_contour"], dtype=np.int64)
        left = np.asarray(lists["left_contour"], dtype=np.int64)
        contour = [right] * 8 + [None] + [left] * 8
    return LinearModel("sfm_3448", mean, shape_basis, expression_basis, data["triangles"].astype(np.int64),
                       ids, weights, tuple(contour))
