"""A synthetic FLAME-format model for tests: FLAME's keys and shapes, small smooth random bases.

``write_synthetic_flame(path)`` writes it as a pickle the way the official files are made: a dict whose
arrays are chumpy ``Ch`` objects (a stand-in class registered as ``chumpy.ch.Ch`` while pickling, so
chumpy itself is never needed) and whose ``J_regressor`` is a scipy sparse CSC matrix.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import scipy.sparse

from conftest import SHARED_FIXTURES
from playalter.pipelines.engine.mesh_io import read_obj

N_VERTICES, N_FACES = 5023, 9976


def _template() -> tuple[np.ndarray, np.ndarray]:
    """FLAME mean head (vertices [5023,3], triangles [9976,3]) when ../shared is present, else a generated
    ellipsoid-like mesh of the same sizes: enough for loading and skinning tests, not for fitting (its
    triangles are random, so the landmarks defined on FLAME's topology do not form a face)."""
    obj = SHARED_FIXTURES / "flame" / "head_template.obj"
    if obj.is_file():
        return read_obj(obj)
    rng = np.random.default_rng(1)
    theta = np.arccos(rng.uniform(-1, 1, N_VERTICES))
    phi = rng.uniform(0, 2 * np.pi, N_VERTICES)
    vertices = np.stack([0.075 * np.sin(theta) * np.cos(phi), 1.5 + 0.1 * np.cos(theta),
                         0.09 * np.sin(theta) * np.sin(phi)], axis=1)
    faces = rng.integers(0, N_VERTICES, size=(N_FACES, 3))
    return vertices, faces


def _smooth_basis(vertices: np.ndarray, count: int, scale: float, seed: int) -> np.ndarray:
    """[V,3,count] smooth random deformations: random sums of wide Gaussian bumps over the head, without
    rigid motion, with a decaying spectrum like a PCA basis scaled by its standard deviations (component
    k moves a vertex by at most scale / (1 + k / 5))."""
    rng = np.random.default_rng(seed)
    centres = vertices[rng.integers(0, len(vertices), size=(count, 4))]  # [count,4,3]
    basis = np.zeros((len(vertices), 3, count))
    for index in range(count):
        for centre in centres[index]:
            bump = np.exp(-np.sum((vertices - centre) ** 2, axis=1) / (2 * 0.04 ** 2))  # [V]
            basis[:, :, index] += bump[:, None] * rng.normal(size=3)
    basis = _without_rigid_motion(vertices, basis)
    spectrum = scale / (1 + np.arange(count) / 5)  # [count]
    return basis * spectrum / np.abs(basis).max(axis=(0, 1), keepdims=True)


def _without_rigid_motion(vertices: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Remove from each direction [V,3] its rigid part (3 translations, 3 small rotations about the head
    centre), as PCA of aligned scans does: a shape change must not imitate a head turn."""
    centred = vertices - vertices.mean(axis=0)  # [V,3]
    rigid = [np.tile(axis, (len(vertices), 1)) for axis in np.eye(3)]
    rigid += [np.cross(axis, centred) for axis in np.eye(3)]
    motions = np.stack([motion.reshape(-1) for motion in rigid], axis=1)  # [V*3,6]
    q, _ = np.linalg.qr(motions)
    flat = basis.reshape(-1, basis.shape[2])  # [V*3,K]
    return (flat - q @ (q.T @ flat)).reshape(basis.shape)


def synthetic_flame_arrays() -> dict[str, np.ndarray]:
    vertices, faces = _template()
    shapedirs = np.concatenate([_smooth_basis(vertices, 300, 0.006, seed=2),
                                _smooth_basis(vertices, 100, 0.004, seed=3)], axis=2)  # [V,3,400]
    rng = np.random.default_rng(4)
    posedirs = rng.normal(scale=1e-4, size=(N_VERTICES, 3, 36))
    # joints: root and neck low in the head, jaw below the ears, eyes at the eyeballs
    anchors = np.array([[0.0, 1.45, -0.02], [0.0, 1.42, -0.03], [0.0, 1.47, -0.01],
                        [0.031, 1.525, 0.039], [-0.031, 1.525, 0.039]])
    J_regressor = np.zeros((5, N_VERTICES))
    for joint, anchor in enumerate(anchors):
        nearest = np.argsort(np.linalg.norm(vertices - anchor, axis=1))[:4]
        J_regressor[joint, nearest] = 0.25
    weights = np.zeros((N_VERTICES, 5))
    below_mouth = vertices[:, 1] < 1.455
    weights[:, 1] = np.where(below_mouth, 0.0, 1.0)
    weights[:, 2] = np.where(below_mouth, 1.0, 0.0)
    weights[3931:4477] = [0, 0, 0, 1, 0]
    weights[4477:] = [0, 0, 0, 0, 1]
    kintree = np.array([[2 ** 32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64)
    return {"v_template": vertices, "f": faces.astype(np.uint32), "shapedirs": shapedirs, "posedirs": posedirs,
            "J_regressor": J_regressor, "weights": weights, "kintree_table": kintree}


class _FakeCh:
    """Pickled as chumpy.ch.Ch: the real class keeps its array in the 'x' attribute."""

    def __init__(self, array: np.ndarray):
        self.x = array


def write_synthetic_flame(path: Path) -> dict[str, np.ndarray]:
    """Write the synthetic model as a FLAME-style pickle at path; returns its arrays."""
    arrays = synthetic_flame_arrays()
    chumpy = types.ModuleType("chumpy")
    chumpy_ch = types.ModuleType("chumpy.ch")
    fake = type("Ch", (_FakeCh,), {"__module__": "chumpy.ch"})
    chumpy_ch.Ch = fake
    saved = {name: sys.modules.get(name) for name in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = chumpy, chumpy_ch
    try:
        content = dict(arrays)
        for key in ("v_template", "shapedirs", "posedirs", "weights"):
            content[key] = fake(arrays[key])
        content["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
        content["bs_style"] = "lbs"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            pickle.dump(content, handle, protocol=2)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return arrays




def render_landmarks(model, fit) -> np.ndarray:
    """Noise-free iBUG-68 projections [68,2] of a known fit (``pipelines.flame.fitting.Fit``): fixed points
    from the landmark embedding, jaw-contour points at the silhouette (the candidate projected furthest
    out from the face centre), as a detector would place them."""
    from playalter.pipelines.flame.fitting import posed_vertices, project_vertices

    _, pixels = project_vertices(posed_vertices(model, fit), fit)  # [V,2]
    points = np.einsum("lk,lkc->lc", model.landmark_weights, pixels[model.landmark_vertices])  # [68,2]
    centre = points[[36, 45, 48, 54]].mean(axis=0)
    for index, candidates in enumerate(model.contour):
        if candidates is None:
            continue
        outward = points[index] - centre
        projected = pixels[candidates]  # [C,2]
        points[index] = projected[np.argmax((projected - centre) @ outward)]
    return points


def known_fit(model, rng, camera, n_shape: int, n_expression: int, rotation_degrees, jaw: float = 0.1,
              distance: float = 0.45):
    """A Fit with random coefficients (N(0,1) shape, N(0,0.5) expression) and the head centred `distance`
    metres in front of the camera."""
    from playalter.pipelines.flame.fitting import FLIP, Fit, posed_vertices
    from playalter.pipelines.flame.lbs import rodrigues

    fit = Fit(shape=rng.normal(size=n_shape), expression=0.5 * rng.normal(size=n_expression),
              rotation=np.radians(rotation_degrees), translation=np.zeros(3), jaw=np.array([jaw, 0.0, 0.0]),
              camera=camera, landmarks_2d=np.zeros((68, 2)), residuals=np.zeros((68, 2)),
              used=np.ones(68, bool), shape_std=np.zeros(n_shape))
    centre = posed_vertices(model, fit)[:3931].mean(axis=0)
    fit.translation = np.array([0.0, 0.0, distance]) - FLIP @ rodrigues(fit.rotation[None])[0] @ centre
    return fit


def render_dense(model, fit) -> np.ndarray:
    """Noise-free projections [L,2] of the dense embedding's surface points (``model.dense``) for a known
    fit, far-side points included (a face-mesh detector places them too)."""
    from playalter.pipelines.flame.fitting import posed_vertices, project_vertices

    _, pixels = project_vertices(posed_vertices(model, fit), fit)  # [V,2]
    dense = model.dense
    return np.einsum("lk,lkc->lc", dense.weights, pixels[dense.vertices])


def shape_recovery(model, rng, camera, rotation, n_shape: int = 100, n_expression: int = 50,
                   noise_px: float = 1.0) -> dict[str, tuple[float, float]]:
    """Fit one random head from its 68 landmarks and from its dense points, with the same pixel noise:
    {"ibug68" | "dense": (shape-coefficient RMS error, mean per-vertex error of the neutral face in mm)}.
    The face is the head vertices within 15 mm of a dense point on the mean head (forehead to chin, ear
    to ear; the scalp and the back of the head are seen by neither set)."""
    from playalter.pipelines.flame.fitting import FitOptions, fit_landmarks

    truth = known_fit(model, rng, camera, n_shape, n_expression, rotation)
    options = FitOptions(n_shape=n_shape, n_expression=n_expression)
    face = face_vertices(model)
    truth_mesh = model.neutral_vertices(truth.shape)[face]  # [F,3]
    sparse = render_landmarks(model, truth)
    dense = render_dense(model, truth)
    fits = {"ibug68": fit_landmarks(model, sparse + rng.normal(scale=noise_px, size=sparse.shape), camera,
                                    options=options),
            "dense": fit_landmarks(model, dense + rng.normal(scale=noise_px, size=dense.shape), camera,
                                   options=options, embedding=model.dense)}
    return {name: (float(np.sqrt(np.mean((fit.shape - truth.shape) ** 2))),
                   1000 * float(np.linalg.norm(model.neutral_vertices(fit.shape)[face] - truth_mesh, axis=1).mean()))
            for name, fit in fits.items()}


def face_vertices(model) -> np.ndarray:
    """Ids of the head vertices within 15 mm of a dense landmark on the mean head."""
    points = np.einsum("lk,lkc->lc", model.dense.weights, model.mean[model.dense.vertices])  # [L,3]
    head = model.mean[:3931]
    distance = np.sqrt(((head[:, None, :] - points[None]) ** 2).sum(axis=2)).min(axis=1)  # [3931]
    return np.nonzero(distance < 0.015)[0]
