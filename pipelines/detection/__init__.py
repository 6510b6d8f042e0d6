"""Face detection backends and the ``detect_faces`` entry point."""

from .api import BACKENDS, ORDERS, detect_faces, order_faces

__all__ = ["BACKENDS", "ORDERS", "detect_faces", "order_faces"]
