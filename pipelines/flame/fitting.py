"""Fit a linear morphable model (FLAME or a plain one) to the 2D landmarks of one or more photos.

Camera: pinhole, OpenCV axes (x right, y down, z into the scene), focal ``f`` pixels, principal point at
the image centre. Model axes: x to the subject's left, y up, z out of the face. A model point p is seen at

    X = R_cam @ p + t,   R_cam = diag(1, -1, -1) @ R_head,   u = f X/Z + cx,   v = f Y/Z + cy

so ``R_head`` is the head's rotation away from looking straight into the camera (FLAME's global pose).

The fit minimises, by Gauss-Newton (Levenberg-Marquardt damped) steps with analytic Jacobians,

    sum_k w_k |u_k - obs_k|^2 / sigma^2  +  |alpha|^2  +  |beta|^2 / s_e^2  +  |jaw|^2 / s_j^2

over the head rotation and translation, FLAME's jaw rotation, shape alpha [S] and expression beta [E]
(both bases are scaled by their standard deviations, so N(0, 1) priors). Landmarks are linear in alpha
and beta for a fixed pose, so each step is one small dense linear solve: 68 landmarks, 100 shape and 50
expression coefficients give a 159 x 159 system. Stages: a rigid fit of the mean face (cv2.solvePnP, then
pose-only steps), then non-rigid steps; before each step the 17 jaw-contour points are re-assigned to the
candidate vertex whose projection is nearest to the detected contour point (the silhouette moves as the
head turns). Neck pose is not separable from the global rotation for face landmarks and stays zero; eye
pose is not observed by the 68 points and stays zero. With fewer than 17 distinct landmarks (5 keypoints)
only the rigid stage runs: shape and expression stay at the mean.

The landmark set is data (``model.Embedding``): the 68 iBUG points above, or the dense MediaPipe set
(about 460 surface points, no contour candidates, since the mesh's silhouette points are real surface
points). A dense set culls, before each step, the points whose surface faces away from the camera.

Several photos of one person can share one shape (``fit_views``): their residuals are stacked with one
alpha and per-photo pose, jaw and expression.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..core.errors import InvalidParameterError
from .lbs import lbs, rigid_transforms, rodrigues, rotation_to_axis_angle
from .model import Embedding, LinearModel

FLIP = np.diag([1.0, -1.0, -1.0])  # model axes -> camera axes for a head facing the camera
DEFAULT_FOCAL_35MM = 50.0  # 35 mm-equivalent focal length assumed when the photo has no EXIF
JAW = 2  # FLAME joint index of the jaw
MIN_POINTS_NON_RIGID = 17  # with fewer distinct landmarks (e.g. 5 keypoints) only the head pose is fitted


@dataclass(frozen=True)
class Camera:
    focal: float  # pixels
    cx: float
    cy: float

    @classmethod
    def for_image(cls, width: int, height: int, focal: float | None = None,
                  focal_35mm: float | None = None) -> "Camera":
        """A camera for a width x height photo: explicit focal (pixels), else a 35 mm-equivalent focal
        length (EXIF FocalLengthIn35mmFilm; 0 or None: unknown), else DEFAULT_FOCAL_35MM; 36 mm spans the
        long side."""
        if focal_35mm is not None and not focal_35mm >= 0:  # NaN too
            raise InvalidParameterError(f"focal_35mm must be a positive 35 mm-equivalent focal length in mm (0 when "
                                        f"unknown), got {focal_35mm}")
        if focal is None:
            focal = (focal_35mm or DEFAULT_FOCAL_35MM) / 36.0 * max(width, height)
        return cls(float(focal), width / 2.0, height / 2.0)


@dataclass(frozen=True)
class FitOptions:
    n_shape: int = 100
    n_expression: int = 50
    landmark_sigma: float = 0.01  # landmark noise as a fraction of the inter-ocular distance
    expression_prior: float = 1.0  # standard deviation of expression coefficients
    jaw_prior: float = 0.2  # radians, standard deviation of each jaw rotation component
    rigid_iterations: int = 3
    iterations: int = 5

    def validate(self, model: LinearModel) -> None:
        if not 0 <= self.n_shape <= model.n_shape:
            raise InvalidParameterError(f"n_shape must be between 0 and {model.n_shape} for {model.name}")
        if not 0 <= self.n_expression <= model.n_expression:
            raise InvalidParameterError(f"n_expression must be between 0 and {model.n_expression} for {model.name}")
        if self.landmark_sigma <= 0 or self.expression_prior <= 0 or self.jaw_prior <= 0:
            raise InvalidParameterError("landmark_sigma, expression_prior and jaw_prior must be positive")


@dataclass
class View:
    """One photo's observation and its per-photo unknowns."""

    points: np.ndarray  # [L,2] observed landmarks, pixels
    weights: np.ndarray  # [L] per-point confidence (0 = missing / occluded)
    camera: Camera
    embedding: Embedding
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # R_head [3,3]
    translation: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))  # [3] metres, camera axes
    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))  # [3] model point the rotation turns about
    jaw: np.ndarray = field(default_factory=lambda: np.zeros(3))  # [3] axis-angle
    expression: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [E]
    ids: np.ndarray | None = None  # [L,3] vertex ids of each landmark for the current contour choice
    bary: np.ndarray | None = None  # [L,3] their weights
    gathered: "_Gathered | None" = None  # the model rows of those vertices
    visible: np.ndarray | None = None  # [L] 0 where the surface faces away from the camera (culled), else 1

    @property
    def effective_weights(self) -> np.ndarray:
        return self.weights if self.visible is None else self.weights * self.visible


@dataclass
class Fit:
    """Result for one photo (shape shared when several photos were fitted together)."""

    shape: np.ndarray  # [S]
    expression: np.ndarray  # [E]
    rotation: np.ndarray  # [3] axis-angle of R_head
    translation: np.ndarray  # [3] metres
    jaw: np.ndarray  # [3] axis-angle
    camera: Camera
    landmarks_2d: np.ndarray  # [L,2] fitted landmark projections
    residuals: np.ndarray  # [L,2] fitted - observed (NaN where the point was not used)
    used: np.ndarray  # [L] bool
    shape_std: np.ndarray  # [S] posterior standard deviation of each shape coefficient (Gauss-Newton)
    normalised_error: float = 0.0  # mean distance over the used points / observed inter-ocular distance
    landmark_set: str = "ibug68"  # the Embedding the landmarks belong to


def _inter_ocular(points: np.ndarray, embedding: Embedding) -> float:
    """Distance between the outer eye corners of [L,2] points."""
    right, left = embedding.eye_corners
    return float(np.linalg.norm(points[right] - points[left]))


class _Prepared:
    """Per-model arrays the fitter reuses: truncated bases and, for FLAME, joint regressors."""

    def __init__(self, model: LinearModel, n_shape: int, n_expression: int):
        self.model = model
        self.shape_basis = model.shape_basis[:, :, :n_shape]  # [V,3,S]
        self.expression_basis = model.expression_basis[:, :, :n_expression]  # [V,3,E]
        art = model.articulation
        if art is not None:
            joints = len(art.parents)
            self.joints_mean = art.J_regressor @ model.mean  # [J,3]
            self.joints_shape = (art.J_regressor @ self.shape_basis.reshape(model.n_vertices, -1)).reshape(
                joints, 3, n_shape)  # [J,3,S]
            self.joints_expression = (art.J_regressor @ self.expression_basis.reshape(model.n_vertices, -1)).reshape(
                joints, 3, n_expression)  # [J,3,E]


@functools.lru_cache(maxsize=8)
def _prepare(model: LinearModel, n_shape: int, n_expression: int) -> _Prepared:
    return _Prepared(model, n_shape, n_expression)


def _skinning(prepared: _Prepared, shape: np.ndarray, expression: np.ndarray, jaw: np.ndarray,
              vertex_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """For FLAME with a jaw rotation: per-vertex linear parts A [N,3,3] and offsets b [N,3] of the
    skinning transforms, with the pose-corrective offsets folded into b. None when the model has no joints."""
    art = prepared.model.articulation
    if art is None:
        return None
    joints = prepared.joints_mean + prepared.joints_shape @ shape + prepared.joints_expression @ expression  # [J,3]
    rotations = np.tile(np.eye(3), (len(art.parents), 1, 1))  # [J,3,3] only the jaw turns
    rotations[JAW] = rodrigues(jaw[None])[0]
    transforms = rigid_transforms(rotations, joints, art.parents)  # [J,4,4]
    blended = (art.weights[vertex_ids] @ transforms.reshape(len(transforms), 16)).reshape(-1, 4, 4)  # [N,4,4]
    feature = (rotations[1:] - np.eye(3)).reshape(-1)  # [36]
    rows = (vertex_ids[:, None] * 3 + np.arange(3)).reshape(-1)  # [N*3]
    corrective = (art.posedirs[rows] @ feature).reshape(-1, 3)  # [N,3]
    linear = blended[:, :3, :3]
    offsets = blended[:, :3, 3] + (linear @ corrective[:, :, None])[:, :, 0]
    return linear, offsets


@dataclass
class _Gathered:
    """The vertices behind the L landmarks for the current contour choice (N = L * 3)."""

    flat: np.ndarray  # [N] vertex ids
    weights: np.ndarray  # [N] barycentric weight of each
    mean: np.ndarray  # [N,3]
    shape_basis: np.ndarray  # [N,3,S]
    expression_basis: np.ndarray  # [N,3,E]

    @classmethod
    def of(cls, prepared: _Prepared, ids: np.ndarray, bary: np.ndarray) -> "_Gathered":
        flat = ids.reshape(-1)
        return cls(flat, bary.reshape(-1), prepared.model.mean[flat], prepared.shape_basis[flat],
                   prepared.expression_basis[flat])

    def to_landmarks(self, per_vertex: np.ndarray) -> np.ndarray:
        """[N,...] per-vertex values -> [L,...] weighted sums over each landmark's three vertices."""
        weighted = per_vertex * self.weights.reshape((-1,) + (1,) * (per_vertex.ndim - 1))
        landmarks = len(self.flat) // 3  # L, given explicitly: -1 cannot be inferred when S or E is 0
        return weighted.reshape((landmarks, 3) + per_vertex.shape[1:]).sum(axis=1)


def _landmark_model(prepared: _Prepared, shape: np.ndarray, view: View, derivatives: bool = True
                    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Model-space landmarks [L,3] and (when derivatives) their derivatives by shape [L,3,S] and
    expression [L,3,E] at the view's jaw pose."""
    gathered = view.gathered
    neutral = gathered.mean + gathered.shape_basis @ shape + gathered.expression_basis @ view.expression  # [N,3]
    skin = _skinning(prepared, shape, view.expression, view.jaw, gathered.flat)
    if skin is None:
        if not derivatives:
            return gathered.to_landmarks(neutral), None, None
        return (gathered.to_landmarks(neutral), gathered.to_landmarks(gathered.shape_basis),
                gathered.to_landmarks(gathered.expression_basis))
    linear, offsets = skin
    points = gathered.to_landmarks((linear @ neutral[:, :, None])[:, :, 0] + offsets)
    if not derivatives:
        return points, None, None
    d_shape = gathered.to_landmarks(linear @ gathered.shape_basis)
    d_expression = gathered.to_landmarks(linear @ gathered.expression_basis)
    return points, d_shape, d_expression


def _project(points: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space points [N,3] and pixel projections [N,2] of model points [N,3]:
    X = R_cam (p - centre) + translation (the fit reports the translation for centre = 0)."""
    camera_points = (points - view.centre) @ (FLIP @ view.rotation).T + view.translation  # [N,3]
    return camera_points, _pixels(camera_points, view.camera)


def _pixels(camera_points: np.ndarray, camera: Camera) -> np.ndarray:
    """Pinhole projection [N,2] of camera-space points [N,3]."""
    depth = np.maximum(camera_points[:, 2], 1e-6)
    return camera.focal * camera_points[:, :2] / depth[:, None] + [camera.cx, camera.cy]


def _choose_contour(prepared: _Prepared, shape: np.ndarray, view: View) -> None:
    """Assign each jaw-contour landmark the candidate vertex projected nearest to its observation."""
    model = prepared.model
    embedding = view.embedding
    ids = embedding.vertices.copy()  # [L,3]
    bary = embedding.weights.copy()  # [L,3]
    rows = [(index, candidates) for index, candidates in enumerate(embedding.contour)
            if candidates is not None and view.weights[index] > 0]
    if rows:
        candidates = np.concatenate([row for _, row in rows])  # [C]
        vertices = model.mean[candidates] + prepared.shape_basis[candidates] @ shape + (
            prepared.expression_basis[candidates] @ view.expression)  # [C,3]
        skin = _skinning(prepared, shape, view.expression, view.jaw, candidates)
        if skin is not None:
            vertices = (skin[0] @ vertices[:, :, None])[:, :, 0] + skin[1]
        _, pixels = _project(vertices, view)  # [C,2]
        start = 0
        for index, row in rows:
            distances = np.linalg.norm(pixels[start:start + len(row)] - view.points[index], axis=1)
            ids[index] = row[int(np.argmin(distances))]
            bary[index] = (1.0, 0.0, 0.0)
            start += len(row)
    view.ids, view.bary = ids, bary
    view.gathered = _Gathered.of(prepared, ids, bary)


def _cull(prepared: _Prepared, shape: np.ndarray, view: View) -> None:
    """For a dense set: mark visible the points whose triangle faces the camera at the current estimate."""
    if not view.embedding.cull_back_facing:
        return
    gathered = view.gathered
    corners = gathered.mean + gathered.shape_basis @ shape + gathered.expression_basis @ view.expression  # [N,3]
    skin = _skinning(prepared, shape, view.expression, view.jaw, gathered.flat)
    if skin is not None:
        corners = (skin[0] @ corners[:, :, None])[:, :, 0] + skin[1]
    camera_corners, _ = _project(corners, view)
    triangles = camera_corners.reshape(-1, 3, 3)  # [L,3 corners,3]
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])  # [L,3] outward
    view.visible = (np.einsum("lc,lc->l", normals, triangles.mean(axis=1)) < 0).astype(np.float64)


def _update_landmarks(prepared: _Prepared, shape: np.ndarray, view: View) -> None:
    _choose_contour(prepared, shape, view)
    _cull(prepared, shape, view)


def _used(view: View) -> np.ndarray:
    defined = (view.bary if view.bary is not None else view.embedding.weights).sum(axis=1) > 0
    return defined & (view.effective_weights > 0) & np.isfinite(view.points).all(axis=1)


def _rigid_start(prepared: _Prepared, view: View) -> None:
    """Pose of the mean face from the non-contour landmarks (cv2.solvePnP)."""
    model, embedding = prepared.model, view.embedding
    fixed = (embedding.weights.sum(axis=1) > 0) & (view.weights > 0)
    fixed &= np.array([candidates is None for candidates in embedding.contour])
    mean_points = (model.mean[embedding.vertices] * embedding.weights[:, :, None]).sum(axis=1)  # [L,3]
    camera_matrix = np.array([[view.camera.focal, 0, view.camera.cx], [0, view.camera.focal, view.camera.cy], [0, 0, 1]])
    view.centre = mean_points[fixed].mean(axis=0)  # turn about the face, not FLAME's origin below the neck
    object_points = ((mean_points[fixed] - view.centre) @ FLIP.T).astype(np.float64)
    image_points = view.points[fixed].astype(np.float64)
    ok, rvec, tvec = cv2.solvePnP(object_points, image_points, camera_matrix, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise InvalidParameterError("the landmarks do not determine a head pose (are they all on a line?)")
    rotation_cam = cv2.Rodrigues(rvec)[0]  # maps FLIP-ed model points: R_cam = rotation_cam @ FLIP
    view.rotation = FLIP @ rotation_cam @ FLIP
    view.translation = tvec.reshape(3)


def _skew(vectors: np.ndarray) -> np.ndarray:
    """[N,3] -> [N,3,3] cross-product matrices."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    zeros = np.zeros_like(x)
    return np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=1).reshape(-1, 3, 3)


def _contour_metric(view: View) -> np.ndarray:
    """[L,2,2] residual projections: identity for fixed points; for jaw-contour points with candidates,
    the projection onto the normal of the observed outline (a contour point may slide along the outline,
    since detectors place contour points along it only loosely)."""
    metric = np.tile(np.eye(2), (len(view.points), 1, 1))
    outline = [index for index, candidates in enumerate(view.embedding.contour) if candidates is not None]
    for position, index in enumerate(outline):
        before = view.points[outline[max(position - 1, 0)]]
        after = view.points[outline[min(position + 1, len(outline) - 1)]]
        tangent = after - before
        length = np.linalg.norm(tangent)
        if length > 0:
            normal = np.array([-tangent[1], tangent[0]]) / length
            metric[index] = np.outer(normal, normal)
    return metric


def _view_system(prepared: _Prepared, shape: np.ndarray, view: View, sigma: float, rigid_only: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted residuals r [2L] and Jacobians by shape [2L,S] and by the view's own unknowns
    [2L, 9+E] (rotation increment, translation, jaw, expression)."""
    used = _used(view)
    points, d_shape, d_expression = _landmark_model(prepared, shape, view)
    camera_points, pixels = _project(points[used], view)
    scale = np.sqrt(view.effective_weights[used])[:, None] / sigma  # [L,1]
    metric = _contour_metric(view)[used]  # [L,2,2]
    residual = (metric @ ((pixels - view.points[used]) * scale)[:, :, None]).reshape(-1)  # [2L]
    depth = camera_points[:, 2]
    focal = view.camera.focal
    d_pixel = np.zeros((len(depth), 2, 3))  # [L,2,3] d(u,v)/d(camera point)
    d_pixel[:, 0, 0] = focal / depth
    d_pixel[:, 1, 1] = focal / depth
    d_pixel[:, :, 2] = -focal * camera_points[:, :2] / depth[:, None] ** 2
    d_pixel = metric @ (d_pixel * scale[:, :, None])
    rotation_cam = FLIP @ view.rotation
    d_rotation = -_skew(camera_points - view.translation)  # [L,3,3] left-multiplied increment of R_cam
    d_translation = np.broadcast_to(np.eye(3), d_rotation.shape)
    blocks = [d_rotation, d_translation]
    n_expression = 0 if rigid_only else len(view.expression)
    if not rigid_only:
        blocks.append(_jaw_jacobian(prepared, shape, view, used, points, rotation_cam))
        blocks.append(rotation_cam @ d_expression[used])
    view_jacobian = (d_pixel @ np.concatenate(blocks, axis=2)).reshape(-1, 6 + (
        0 if rigid_only else 3 + n_expression))
    shape_jacobian = d_pixel @ (rotation_cam @ d_shape[used])
    return residual, shape_jacobian.reshape(len(residual), -1), view_jacobian


def _jaw_jacobian(prepared: _Prepared, shape: np.ndarray, view: View, used: np.ndarray, base: np.ndarray,
                  rotation_cam: np.ndarray) -> np.ndarray:
    """d(camera point)/d(jaw) [L,3,3] by forward differences from the landmarks at the current jaw,
    base [L,3] (zero for models without joints)."""
    if prepared.model.articulation is None:
        return np.zeros((int(used.sum()), 3, 3))
    step = 1e-4
    columns = []
    original = view.jaw
    for axis in range(3):
        view.jaw = original + step * np.eye(3)[axis]
        moved = _landmark_model(prepared, shape, view, derivatives=False)[0]
        columns.append((moved - base)[used] @ rotation_cam.T / step)
    view.jaw = original
    return np.stack(columns, axis=2)


def _step(prepared: _Prepared, shape: np.ndarray, views: list[View], options: FitOptions, rigid_only: bool,
          damping: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """One damped Gauss-Newton step over shared shape and every view's unknowns (updated in place);
    returns the new shape and the normal matrix [P,P] of the step (its inverse is the Laplace posterior
    covariance; the shape block comes first)."""
    n_shape = 0 if rigid_only else len(shape)
    per_view = 6 if rigid_only else 9 + options.n_expression
    size = n_shape + per_view * len(views)
    normal = np.zeros((size, size))
    gradient = np.zeros(size)
    for index, view in enumerate(views):
        sigma = options.landmark_sigma * max(_inter_ocular(view.points, view.embedding), 1.0)
        residual, shape_jacobian, view_jacobian = _view_system(prepared, shape, view, sigma, rigid_only)
        jacobian = np.zeros((len(residual), size))
        jacobian[:, :n_shape] = shape_jacobian[:, :n_shape]
        start = n_shape + index * per_view
        jacobian[:, start:start + per_view] = view_jacobian
        normal += jacobian.T @ jacobian
        gradient += jacobian.T @ residual
        if not rigid_only:  # priors on expression and jaw
            prior = np.zeros(per_view)
            prior[6:9] = 1.0 / options.jaw_prior ** 2
            prior[9:] = 1.0 / options.expression_prior ** 2
            normal[start:start + per_view, start:start + per_view] += np.diag(prior)
            gradient[start:start + per_view] += prior * np.concatenate([np.zeros(6), view.jaw, view.expression])
    if n_shape:
        normal[:n_shape, :n_shape] += np.eye(n_shape)  # N(0, 1) shape prior
        gradient[:n_shape] += shape
    normal += damping * np.diag(np.diag(normal))
    delta = -np.linalg.solve(normal, gradient)
    for index, view in enumerate(views):
        start = n_shape + index * per_view
        block = delta[start:start + per_view]
        view.rotation = _rotate(view.rotation, block[:3])
        view.translation = view.translation + block[3:6]
        if not rigid_only:
            view.jaw = view.jaw + block[6:9]
            view.expression = view.expression + block[9:]
    new_shape = shape + delta[:n_shape] if n_shape else shape
    return new_shape, normal


def _rotate(rotation: np.ndarray, increment: np.ndarray) -> np.ndarray:
    """Apply a camera-frame rotation increment to R_head: R_cam <- exp(w) R_cam, R_cam = FLIP R_head."""
    return FLIP @ rodrigues(increment[None])[0] @ FLIP @ rotation


def fit_views(model: LinearModel, observations: list[tuple[np.ndarray, np.ndarray, Camera]],
              options: FitOptions = FitOptions()) -> list[Fit]:
    """Fit one shared shape to one or more photos of the same person.

    observations: per photo, (points [L,2] pixels, weights [L], camera) for the iBUG-68 set (see
    ``pipelines.flame.schemes`` to map 106-point or 3D landmarks), or (points, weights, camera, embedding)
    for another landmark set of the model (``model.dense``); NaN / weight 0 where missing.
    """
    options.validate(model)
    if not observations:
        raise InvalidParameterError("fit_views needs at least one set of landmarks")
    prepared = _prepare(model, options.n_shape, options.n_expression)
    shape = np.zeros(options.n_shape)
    views = []
    for points, weights, camera, *embedding in observations:
        embedding = embedding[0] if embedding else model.ibug68
        points = np.asarray(points, dtype=np.float64)
        if points.shape != (len(embedding), 2):
            raise InvalidParameterError(f"expected {len(embedding)} landmarks ({len(embedding)}, 2) for "
                                        f"{embedding.name}, got {points.shape}")
        weights = np.where(np.isfinite(points).all(axis=1), np.asarray(weights, dtype=np.float64), 0.0)
        view = View(np.nan_to_num(points), weights, camera, embedding, expression=np.zeros(options.n_expression))
        inner = np.array([candidates is None for candidates in embedding.contour])
        if (weights[inner] > 0).sum() < 6:
            raise InvalidParameterError("at least 6 landmarks inside the face are needed for a fit")
        _rigid_start(prepared, view)
        views.append(view)
    for _ in range(options.rigid_iterations):
        for view in views:
            _update_landmarks(prepared, shape, view)
        shape, _ = _step(prepared, shape, views, options, rigid_only=True)
    normal = np.eye(options.n_shape)
    sparse = any(len(np.unique(view.points[view.weights > 0], axis=0)) < MIN_POINTS_NON_RIGID for view in views)
    for _ in range(0 if sparse else options.iterations):
        for view in views:
            _update_landmarks(prepared, shape, view)
        shape, normal = _step(prepared, shape, views, options, rigid_only=False)
    shape_std = np.sqrt(np.diag(np.linalg.inv(normal))[:options.n_shape])  # prior std (1) when rigid only
    return [_result(prepared, shape, shape_std, view) for view in views]


def fit_landmarks(model: LinearModel, points: np.ndarray, camera: Camera, weights: np.ndarray | None = None,
                  options: FitOptions = FitOptions(), embedding: Embedding | None = None) -> Fit:
    """Fit one face: points [L,2] in pixels (NaN where missing) of the embedding (default the model's
    iBUG-68 set), optional per-point weights [L] (default the embedding's point weights)."""
    embedding = embedding or model.ibug68
    weights = embedding.point_weights if weights is None else weights
    return fit_views(model, [(points, weights, camera, embedding)], options)[0]


def _result(prepared: _Prepared, shape: np.ndarray, shape_std: np.ndarray, view: View) -> Fit:
    used = _used(view)
    points, _, _ = _landmark_model(prepared, shape, view, derivatives=False)
    _, pixels = _project(points, view)
    residuals = np.where(used[:, None], pixels - view.points, np.nan)
    error = float(np.linalg.norm(residuals[used], axis=1).mean() / max(_inter_ocular(view.points, view.embedding), 1e-9))
    translation = view.translation - FLIP @ view.rotation @ view.centre  # for rotation about the model origin
    return Fit(shape=shape.copy(), expression=view.expression.copy(), rotation=rotation_to_axis_angle(view.rotation),
               translation=translation, jaw=view.jaw.copy(), camera=view.camera, landmarks_2d=pixels,
               residuals=residuals, used=used, shape_std=shape_std, normalised_error=error,
               landmark_set=view.embedding.name)


def posed_vertices(model: LinearModel, fit: Fit) -> np.ndarray:
    """Full mesh [V,3] in model axes (metres) with the fit's expression and jaw, before the head pose."""
    coefficients = np.concatenate([fit.shape, fit.expression])
    directions = np.concatenate([model.shape_basis[:, :, :len(fit.shape)],
                                 model.expression_basis[:, :, :len(fit.expression)]], axis=2)
    art = model.articulation
    if art is None:
        return model.mean + directions @ coefficients
    pose = np.zeros((len(art.parents), 3))
    pose[JAW] = fit.jaw
    vertices, _ = lbs(coefficients, pose, model.mean, directions, art.posedirs, art.J_regressor, art.parents,
                      art.weights)
    return vertices


def project_vertices(vertices: np.ndarray, fit: Fit) -> tuple[np.ndarray, np.ndarray]:
    """Model-axes vertices [V,3] -> camera-space vertices [V,3] (metres) and pixels [V,2]."""
    rotation = rodrigues(fit.rotation[None])[0]
    camera_points = vertices @ (FLIP @ rotation).T + fit.translation  # [V,3]
    return camera_points, _pixels(camera_points, fit.camera)
