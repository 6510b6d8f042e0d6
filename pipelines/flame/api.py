"""Fit every face of every image: the entry point the nodes and the runner use."""

from __future__ import annotations

from pathlib import Path


from ..core.errors import InvalidParameterError
from ..engine.face import Face, check_on_image
from .fitting import Camera, FitOptions, fit_views
from .loading import load_registered_flame
from .model import LinearModel, from_flame
from .result import FlameFit
from .schemes import observe

_flame_model: dict[str, LinearModel] = {}


def flame_linear_model() -> LinearModel:
    """The registered FLAME model as a LinearModel (ModelMissingError naming the licence page when absent)."""
    flame = load_registered_flame("FLAME 3D fitting")
    if flame.source not in _flame_model:
        _flame_model[flame.source] = from_flame(flame)
    return _flame_model[flame.source]


def focal_35mm_from_exif(path: str | Path) -> float | None:
    """EXIF FocalLengthIn35mmFilm of a photo file, or None."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            exif = image.getexif().get_ifd(0x8769)  # Exif IFD
    except OSError:
        return None
    value = exif.get(0xA405)  # FocalLengthIn35mmFilm
    return float(value) if value else None


def _observation(face: Face, model: LinearModel, camera: Camera) -> tuple:
    """(points, weights, camera, embedding): the richest landmark set of the face (``schemes.observe``)."""
    points, weights, embedding = observe(face, model)
    return points, weights, camera, embedding


def fit_faces(image_size: tuple[int, int], faces: list[Face], model: LinearModel | None = None,
              options: FitOptions = FitOptions(), focal_35mm: float | None = None,
              shared_shape: bool = False) -> list[FlameFit]:
    """Fit each face of one image (width, height) to its richest landmarks (dense face mesh when present,
    else 68 / 106 / 5 points). shared_shape: one shape for all the faces (several photos / crops of one
    person)."""
    model = model or flame_linear_model()
    width, height = image_size
    camera = Camera.for_image(width, height, focal_35mm=focal_35mm)
    observations = [_observation(face, model, camera) for face in faces]
    if not observations:
        return []
    if shared_shape:
        fits = fit_views(model, observations, options)
    else:
        fits = [fit_views(model, [observation], options)[0] for observation in observations]
    return [FlameFit.from_fit(model, fit) for fit in fits]


def fit_batch(image_sizes: list[tuple[int, int]], faces: list[list[Face]], model: LinearModel | None = None,
              options: FitOptions = FitOptions(), focal_35mm: float | None = None,
              fuse_person: bool = False, on_face=None) -> list[list[FlameFit]]:
    """FACES batch -> FLAME_FIT batch (parallel lists). fuse_person: every face of the batch is the same
    person, fitted with one shared shape. on_face: optional callback after each fitted face."""
    if len(image_sizes) != len(faces):
        raise InvalidParameterError(f"{len(image_sizes)} images but FACES has {len(faces)} entries")
    for number, ((width, height), image_faces) in enumerate(zip(image_sizes, faces)):
        check_on_image(image_faces, width, height, f"image {number}")
    model = model or flame_linear_model()
    if fuse_person:
        observations, owners = [], []
        for index, (size, image_faces) in enumerate(zip(image_sizes, faces)):
            camera = Camera.for_image(*size, focal_35mm=focal_35mm)
            for face in image_faces:
                observations.append(_observation(face, model, camera))
                owners.append(index)
        fused = fit_views(model, observations, options) if observations else []
        result: list[list[FlameFit]] = [[] for _ in faces]
        for owner, fit in zip(owners, fused):
            result[owner].append(FlameFit.from_fit(model, fit))
        return result
    result = []
    for size, image_faces in zip(image_sizes, faces):
        fits = []
        for face in image_faces:
            fits.extend(fit_faces(size, [face], model, options, focal_35mm))
            if on_face is not None:
                on_face()
        result.append(fits)
    return result
