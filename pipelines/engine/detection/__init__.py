"""Face detection backends and the ``detect_faces`` entry point."""

from .api import BACKENDS, ORDERS, detect_faces, detect_faces_batch, order_faces, resolve_backend

__all__ = ["BACKENDS", "ORDERS", "detect_faces", "detect_faces_batch", "order_faces", "resolve_backend"]
