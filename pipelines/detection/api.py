"""``detect_faces``: backend choice, ordering, and the per-image entry point."""

from __future__ import annotations

from ..face import Face
from . import centerface

BACKENDS = ("auto", "centerface", "buffalo_l")
ORDERS = ("largest", "left_to_right", "right_to_left", "top_to_bottom", "confidence")


def order_faces(faces: list[Face], order: str = "largest") -> list[Face]:
    """Deterministic order; ties broken left to right, then top to bottom."""
    if order not in ORDERS:
        raise ValueError(f"unknown face order '{order}'; choose one of {', '.join(ORDERS)}")
    keys = {
        "largest": lambda face: (-round(face.width * face.height, 3), face.bbox[0], face.bbox[1]),
        "left_to_right": lambda face: (face.bbox[0], face.bbox[1]),
        "right_to_left": lambda face: (-face.bbox[2], face.bbox[1]),
        "top_to_bottom": lambda face: (face.bbox[1], face.bbox[0]),
        "confidence": lambda face: (-face.score, face.bbox[0], face.bbox[1]),
    }
    return sorted(faces, key=keys[order])


def detect_faces(image, backend: str = "auto", threshold: float = 0.5, max_side: int = 1280,
                 order: str = "largest", device: str = "auto") -> list[Face]:
    """Faces in one uint8 RGB image [H,W,3], ordered."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown detector backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    faces = centerface.detect(image, threshold=threshold, max_side=max_side, device=device)
    return order_faces(faces, order)
