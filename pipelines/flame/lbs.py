"""FLAME's forward model in numpy: blend shapes, pose correctives and linear blend skinning.

Follows the structure of smplx's ``lbs.py`` for one head (no batch dimension); ``tests/test_flame_model.py``
checks it against smplx's torch ``lbs`` on the same arrays. Shapes are written next to every array;
V vertices, J = 5 joints (root, neck, jaw, left eye, right eye), K shape + expression coefficients.
"""

from __future__ import annotations

import numpy as np


def rodrigues(axis_angles: np.ndarray) -> np.ndarray:
    """Axis-angle vectors [N,3] -> rotation matrices [N,3,3]."""
    angles = np.linalg.norm(axis_angles, axis=1, keepdims=True)  # [N,1]
    axes = axis_angles / np.maximum(angles, 1e-12)  # [N,3]
    x, y, z = axes[:, 0], axes[:, 1], axes[:, 2]
    zeros = np.zeros_like(x)
    skew = np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=1).reshape(-1, 3, 3)  # [N,3,3]
    sin, cos = np.sin(angles)[:, :, None], np.cos(angles)[:, :, None]  # [N,1,1]
    return np.eye(3)[None] + sin * skew + (1 - cos) * skew @ skew


def rotation_to_axis_angle(rotation: np.ndarray) -> np.ndarray:
    """Rotation matrix [3,3] -> axis-angle [3]."""
    cos = np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0)
    angle = np.arccos(cos)
    if angle < 1e-8:
        return np.zeros(3)
    axis = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]])
    if np.sin(angle) < 1e-6:  # near 180 degrees: take the axis from the symmetric part
        axis = np.sqrt(np.maximum((np.diag(rotation) + 1) / 2, 0))
        return axis / np.linalg.norm(axis) * angle
    return axis / (2 * np.sin(angle)) * angle


def blend_shapes(coefficients: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Coefficients [K] and directions [V,3,K] -> offsets [V,3]."""
    return directions @ coefficients


def rigid_transforms(rotations: np.ndarray, joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Per-joint world transforms [J,4,4] that move rest-pose points, from local rotations [J,3,3],
    rest joint locations [J,3] and the parent of each joint [J] (-1 for the root)."""
    relative = joints.copy()  # [J,3]
    relative[1:] -= joints[parents[1:]]
    local = np.zeros((len(joints), 4, 4))
    local[:, :3, :3] = rotations
    local[:, :3, 3] = relative
    local[:, 3, 3] = 1.0
    chain = [local[0]]
    for joint in range(1, len(joints)):
        chain.append(chain[parents[joint]] @ local[joint])
    world = np.stack(chain)  # [J,4,4] posed joint frames
    rest_offset = np.einsum("jab,jb->ja", world[:, :3, :3], joints)  # [J,3]
    world[:, :3, 3] -= rest_offset  # transform rest-pose points, not joint-local ones
    return world


def lbs(shape_coefficients: np.ndarray, pose: np.ndarray, v_template: np.ndarray, shapedirs: np.ndarray,
        posedirs: np.ndarray, J_regressor: np.ndarray, parents: np.ndarray, weights: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray]:
    """Posed vertices [V,3] and posed joints [J,3].

    shape_coefficients [K]       shape and expression coefficients, in shapedirs' column order
    pose               [J,3]     axis-angle per joint (root first)
    v_template         [V,3]
    shapedirs          [V,3,K]
    posedirs           [V*3,(J-1)*9]
    J_regressor        [J,V]
    parents            [J]
    weights            [V,J]
    """
    shaped = v_template + blend_shapes(shape_coefficients, shapedirs)  # [V,3]
    joints = J_regressor @ shaped  # [J,3]
    rotations = rodrigues(pose)  # [J,3,3]
    pose_feature = (rotations[1:] - np.eye(3)).reshape(-1)  # [(J-1)*9]
    posed = shaped + (posedirs @ pose_feature).reshape(-1, 3)  # [V,3]
    transforms = rigid_transforms(rotations, joints, parents)  # [J,4,4]
    blended = np.einsum("vj,jab->vab", weights, transforms)  # [V,4,4]
    vertices = np.einsum("vab,vb->va", blended[:, :3, :3], posed) + blended[:, :3, 3]  # [V,3]
    posed_joints = transforms[:, :3, :3] @ joints[:, :, None]  # [J,3,1]
    return vertices, posed_joints[:, :, 0] + transforms[:, :3, 3]
