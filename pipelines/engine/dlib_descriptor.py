"""dlib's ResNet face descriptor (128 values) with its 5-point alignment, used as dlib publishes it.

The detector's box is the dlib rectangle that the 5-point shape predictor starts from; the predictor
finds the eye corners and the base of the nose; ``dlib.get_face_chip`` aligns the face onto the
150 x 150 crop with padding 0.25 that the network was trained on; the network turns the crop into
128 values. The network was trained to put each person's faces inside a ball of radius 0.6, so two
descriptors closer than 0.6 (Euclidean) are taken as the same person.

dlib is an optional package (the ``identity`` extra); the model files are the registry's ``identity``
model, fetched on first use. dlib's network keeps per-call buffers, so one lock serialises its runs.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache

import numpy as np

from ..core.errors import DependencyMissingError
from ..models.download import ensure
from .face import Face

MODEL = "identity"
FEATURE = "face identity (dlib descriptor)"
CHIP_SIZE = 150  # pixels: the network's input
CHIP_PADDING = 0.25  # share of the face added around the aligned crop, as the network was trained
INSTALL_HINT = 'pip install "playalter[identity]" (or: pip install dlib-bin)'

_lock = threading.Lock()


def is_installed() -> bool:
    """True when the dlib package can be imported (nothing is imported to check)."""
    return importlib.util.find_spec("dlib") is not None


def _dlib():
    try:
        import dlib
    except ImportError:
        raise DependencyMissingError(
            f"{FEATURE} needs the Python package dlib, which is not installed; install it with: {INSTALL_HINT}"
        ) from None
    return dlib


@lru_cache(maxsize=4)
def _networks(descriptor_path: str, predictor_path: str):
    """(shape predictor, descriptor network) loaded once per pair of files."""
    dlib = _dlib()
    return dlib.shape_predictor(predictor_path), dlib.face_recognition_model_v1(descriptor_path)


def embed(image_rgb: np.ndarray, face: Face) -> np.ndarray:
    """(128,) float32 descriptor of ``face`` in the uint8 RGB image [H,W,3]."""
    dlib = _dlib()
    descriptor_path, predictor_path = ensure(MODEL, FEATURE)
    predictor, network = _networks(str(descriptor_path), str(predictor_path))
    image = np.ascontiguousarray(image_rgb, dtype=np.uint8)  # [H,W,3]
    left, top, right, bottom = (int(round(float(value))) for value in face.bbox[:4])
    with _lock:
        shape = predictor(image, dlib.rectangle(left, top, right, bottom))  # 5 points
        chip = dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)  # [150,150,3]
        descriptor = network.compute_face_descriptor(chip)  # 128 values
    return np.asarray(descriptor, dtype=np.float32)
