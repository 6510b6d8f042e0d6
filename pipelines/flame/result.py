"""``FlameFit``: what fitting one face produces (the FLAME_FIT data type holds list[list[FlameFit]])."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .fitting import FLIP, Fit, posed_vertices, project_vertices
from .lbs import rodrigues
from .model import LinearModel


@dataclass
class FlameFit:
    """One fitted face.

    Axes: FLAME's (x to the subject's left, y up, z out of the face), metres, camera at the origin looking
    down -z: a vertex p is seen at pixel (f * p_x / -p_z + cx, f * -p_y / -p_z + cy).

    model            model id ("flame:generic_model.pkl", "sfm_3448", ...)
    shape [S], expression [E]      coefficients (units of standard deviations)
    global_pose, neck_pose, jaw_pose [3]; eye_pose [6]     axis-angle, radians (neck and eyes stay zero)
    translation [3]  metres, model origin in camera axes (OpenCV: x right, y down, z forward)
    camera           {"focal": px, "cx": px, "cy": px}
    vertices [V,3]   fitted mesh, metres, axes above
    neutral_vertices [V,3]   the same head with expression, jaw and pose set to zero (for measurements)
    vertices_2d [V,2]        mesh projected into the image, pixels
    triangles [F,3]
    landmark_set             "ibug68" or "mediapipe468" (the dense face-mesh points)
    landmarks_2d [L,2]       fitted landmark projections; residuals [L,2] fitted - observed (NaN: unused)
    normalised_error         mean landmark distance / inter-ocular distance
    shape_std [S]            posterior standard deviation of the shape coefficients
    """

    model: str
    shape: np.ndarray
    expression: np.ndarray
    global_pose: np.ndarray
    neck_pose: np.ndarray
    jaw_pose: np.ndarray
    eye_pose: np.ndarray
    translation: np.ndarray
    camera: dict
    vertices: np.ndarray
    neutral_vertices: np.ndarray
    vertices_2d: np.ndarray
    triangles: np.ndarray
    landmarks_2d: np.ndarray
    residuals: np.ndarray
    normalised_error: float
    shape_std: np.ndarray
    landmark_set: str = "ibug68"
    linear_model: LinearModel | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_fit(cls, model: LinearModel, fit: Fit) -> "FlameFit":
        local = posed_vertices(model, fit)  # [V,3] expression and jaw, no head pose
        camera_points, pixels = project_vertices(local, fit)  # [V,3], [V,2]
        return cls(
            model=model.name, shape=fit.shape, expression=fit.expression, global_pose=fit.rotation,
            neck_pose=np.zeros(3), jaw_pose=fit.jaw, eye_pose=np.zeros(6), translation=fit.translation,
            camera={"focal": fit.camera.focal, "cx": fit.camera.cx, "cy": fit.camera.cy},
            vertices=camera_points @ FLIP.T, neutral_vertices=model.neutral_vertices(fit.shape),
            vertices_2d=pixels, triangles=model.triangles, landmarks_2d=fit.landmarks_2d, residuals=fit.residuals,
            normalised_error=fit.normalised_error, shape_std=fit.shape_std, landmark_set=fit.landmark_set,
            linear_model=model,
        )

    @property
    def head_rotation(self) -> np.ndarray:
        """[3,3] rotation of the head away from facing the camera."""
        return rodrigues(self.global_pose[None])[0]

    def to_dict(self, include_mesh: bool = False) -> dict:
        """JSON-ready dict; the mesh arrays (vertices, vertices_2d, triangles) only when include_mesh."""
        def rounded(array: np.ndarray, digits: int = 6) -> list:
            return np.round(np.where(np.isfinite(array), array, np.nan), digits).tolist()

        data = {
            "model": self.model,
            "shape": rounded(self.shape), "expression": rounded(self.expression),
            "global_pose": rounded(self.global_pose), "neck_pose": rounded(self.neck_pose),
            "jaw_pose": rounded(self.jaw_pose), "eye_pose": rounded(self.eye_pose),
            "translation": rounded(self.translation), "camera": self.camera,
            "landmark_set": self.landmark_set,
            "landmarks_2d": rounded(self.landmarks_2d, 2),
            "residuals": [None if not np.isfinite(row).all() else [round(float(v), 3) for v in row]
                          for row in self.residuals],
            "normalised_error": round(float(self.normalised_error), 6),
            "shape_std": rounded(self.shape_std, 4),
            "n_vertices": int(len(self.vertices)),
        }
        if include_mesh:
            data["vertices"] = rounded(self.vertices)
            data["vertices_2d"] = rounded(self.vertices_2d, 2)
            data["triangles"] = self.triangles.tolist()
        return data


def fits_to_json(fits: list[list[FlameFit]], include_mesh: bool = False) -> str:
    """FLAME_FIT batch -> JSON: one list per image of per-face dicts (NaN written as null)."""
    payload = [[fit.to_dict(include_mesh) for fit in image_fits] for image_fits in fits]
    return json.dumps(_nan_to_none(payload))


def _nan_to_none(value):
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    return value
