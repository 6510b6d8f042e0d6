"""A face identity: one embedding, averaged over photos of one person, with the embedding space it is in.

An identity is what InSwapper needs from the source side (an ArcFace identity), and what face-by-reference
looks for (an identity in any space), so saving it lets a workflow find or swap the same person again
without re-analysing the photos. It is stored as a small JSON file (about 10 KB) or ``.npz``:

    {"format": "playalter.face_identity", "version": 1, "embedding": [D floats],
     "space": "arcface_w600k_r50", "count": 3, "name": "...", "created": "2026-...Z",
     "sources": [...free text...]}

``space`` names the model that made the embedding (``engine/embedding.py``); files written before it was
recorded say ``"model": "arcface"`` and are ArcFace's. Identities of different spaces are never compared.
ReActor's face models (``.safetensors``, ``reactor_faces.py``) are read and written as ArcFace identities;
a name ending in ``.safetensors`` is looked for in ReActor's folders, not ours.

Averaging: ArcFace embeddings (compared by cosine) are each normalised, the mean is taken and normalised
again (the centroid of the directions on the unit sphere); dlib descriptors (compared by Euclidean
distance) are averaged as they are.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..core.errors import InvalidParameterError, NoFaceError
from ..engine import embedding as spaces
from ..engine import one_person
from ..engine.embedding import ARCFACE, EmbeddingSpace
from ..engine.face import Face
from ..engine.reference import Reference
from . import reactor_faces

FORMAT = "playalter.face_identity"
VERSION = 1
SUFFIXES = (".json", ".npz", reactor_faces.SUFFIX)
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


@dataclass
class FaceIdentity:
    """embedding: (D,) float32 in the space ``space`` (ArcFace's L2-normalised). count: faces averaged."""

    embedding: np.ndarray
    count: int = 1
    name: str = ""
    space: str = ARCFACE.name
    created: str = ""
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.space = spaces.space_named(self.space).name
        self.embedding = _checked_embedding(self.embedding, "identity embedding", spaces.space_named(self.space))
        if self.count < 1:
            raise InvalidParameterError(f"an identity averages at least one face, got count={self.count}")
        if not self.created:
            self.created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "space": self.space,
            "count": self.count,
            "created": self.created,
            "sources": list(self.sources),
            "embedding": [float(value) for value in self.embedding],
        }

    @classmethod
    def from_dict(cls, data: dict, origin: str = "identity data") -> "FaceIdentity":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InvalidParameterError(f"{origin} is not a PLAYALTER face identity (missing format '{FORMAT}')")
        if data.get("version") != VERSION:
            raise InvalidParameterError(
                f"{origin} has identity format version {data.get('version')!r}; this version reads {VERSION}"
            )
        try:
            embedding = np.asarray(data["embedding"], dtype=np.float32)
            count = int(data.get("count", 1))
            sources = [str(item) for item in data.get("sources", [])]
        except (KeyError, TypeError, ValueError, OverflowError):
            raise InvalidParameterError(f"{origin} is malformed: 'embedding' must be a list of numbers, 'count' a "
                                        "whole number and 'sources' a list") from None
        space = str(data.get("space", data.get("model", "arcface")))  # "model": files before spaces were recorded
        return cls(embedding=embedding, count=count, name=str(data.get("name", "")), space=space,
                   created=str(data.get("created", "")), sources=sources)

    @property
    def embedding_space(self) -> EmbeddingSpace:
        return spaces.space_named(self.space)


def _checked_embedding(values, what: str, space: EmbeddingSpace = ARCFACE) -> np.ndarray:
    """(D,) float32 of ``space``: finite, not all zeros; L2-normalised where the space compares by cosine."""
    embedding = np.asarray(values, dtype=np.float32).reshape(-1)  # (D,)
    if embedding.shape != (space.dimension,):
        raise InvalidParameterError(
            f"{what} must have the {space.dimension} values of {space.name}, got {embedding.size}")
    if not np.all(np.isfinite(embedding)):
        raise InvalidParameterError(f"{what} contains NaN or infinite values")
    norm = float(np.linalg.norm(embedding))
    if norm < 1e-6:
        raise InvalidParameterError(f"{what} is all zeros")
    return embedding / norm if space.metric == "cosine" else embedding


def average(embeddings: list[np.ndarray], space: EmbeddingSpace = ARCFACE) -> np.ndarray:
    """(D,) centroid of several embeddings of ``space`` (for cosine: of the normalised ones, normalised)."""
    if not embeddings:
        raise NoFaceError("no source face to build an identity from: check that the source photos show a face")
    stacked = np.stack([_checked_embedding(item, "face embedding", space) for item in embeddings])  # [N,D]
    return _checked_embedding(stacked.mean(axis=0), "averaged embedding", space)


def check_one_person(embeddings: list[np.ndarray], labels: list[str], space: EmbeddingSpace) -> dict:
    """Are the photos of an identity one person? JSON-able: each photo's distance to the most typical photo
    (``one_person.judge``), judged at the space's same-person distance."""
    distances = np.array([[spaces.distance(first, second, space) for second in embeddings]
                          for first in embeddings])  # [N,N]
    typical, to_typical, same = one_person.judge(distances, space.same_person_distance)
    entries = [{"source": label, "distance": round(float(distance), 4), "same_person": bool(is_same)}
               for label, distance, is_same in zip(labels, to_typical, same)]
    return {"model": space.describe(), "reference": labels[typical], "sources": entries,
            "one_person": bool(same.all())}


def from_photos(embeddings: list[np.ndarray], labels: list[str], space: EmbeddingSpace, name: str = "",
                check: bool = True) -> tuple[FaceIdentity, dict]:
    """The identity of several photos of one person (their centroid, ``average``) and the one-person
    check (``check_one_person``); with ``check``, photos that are not all one person are refused, naming
    the ones that do not match the others."""
    report = check_one_person(embeddings, labels, space)
    if check and not report["one_person"]:
        strangers = [f"{entry['source']} (distance {entry['distance']})" for entry in report["sources"]
                     if not entry["same_person"]]
        raise InvalidParameterError(
            f"the photos do not all show one person: {', '.join(strangers)} from the average of the other "
            f"photos, above {space.name}'s same-person distance {space.same_person_distance}; leave out the "
            "photos of anyone else")
    built = FaceIdentity(average(embeddings, space), count=len(embeddings), name=name, space=space.name,
                         sources=list(labels))
    return built, report


def reference_of(identities: list["FaceIdentity"]) -> Reference:
    """The people of saved identities as a ``Reference``; all must be in one embedding space."""
    if not identities:
        raise InvalidParameterError("no identity given to look for")
    for other in identities[1:]:
        spaces.require_same_space(identities[0].space, other.space)
    return Reference(identities[0].embedding_space, tuple(item.embedding for item in identities),
                     tuple(item.name or f"identity {number}" for number, item in enumerate(identities)))


def from_faces(faces: list[Face], name: str = "", sources: list[str] | None = None) -> FaceIdentity:
    """Identity averaged over faces that carry embeddings (``Face.embedding``)."""
    missing = [index for index, face in enumerate(faces) if face.embedding is None]
    if missing:
        raise InvalidParameterError(
            f"faces {missing} have no ArcFace embedding; detect them with the buffalo_l backend "
            "(or let the swap compute embeddings) before building an identity"
        )
    return FaceIdentity(average([face.embedding for face in faces]), count=len(faces), name=name,
                        sources=list(sources or []))


def identities_dir() -> Path:
    """Where named identities live: settings swap.identities_dir, else <paths.data_dir>/face_identities."""
    from ..core.config import settings

    configured = settings().swap.identities_dir
    return Path(configured) if configured else Path(settings().paths.data_dir) / "face_identities"


def path_for(name: str, suffix: str = ".json") -> Path:
    """The file of a named identity; names are plain (letters, digits, '-', '_', '.'), never paths. A
    ``.safetensors`` name is a ReActor face model, in ReActor's folders."""
    stem = name.strip()
    if stem.lower().endswith(SUFFIXES):
        stem, suffix = stem[:-len(Path(stem).suffix)], Path(stem).suffix.lower()
    if not _NAME.fullmatch(stem):
        raise InvalidParameterError(
            f"identity name '{name}' is not allowed: use letters, digits, '-', '_' or '.' (no folders)")
    if suffix == reactor_faces.SUFFIX:
        return reactor_faces.path_of(f"{stem}{suffix}")
    return identities_dir() / f"{stem}{suffix}"


def saved_names() -> list[str]:
    """Names of the identity files in ``identities_dir()``, then of ReActor's face models."""
    folder = identities_dir()
    ours = sorted(path.name for path in folder.iterdir()
                  if path.suffix.lower() in SUFFIXES and path.suffix.lower() != reactor_faces.SUFFIX) \
        if folder.is_dir() else []
    return ours + reactor_faces.names()


def save(identity: FaceIdentity, path: str | Path) -> Path:
    """Write ``.json``, ``.npz`` or ReActor's ``.safetensors`` (chosen by suffix); returns the path written."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise InvalidParameterError(f"identity files end in {', '.join(SUFFIXES)}, got '{path.name}'")
    if path.suffix.lower() == reactor_faces.SUFFIX:
        if identity.space != ARCFACE.name:
            raise InvalidParameterError(
                f"a ReActor face model holds an ArcFace embedding, but this identity is in {identity.space}; "
                "build it with the ArcFace model (buffalo_l) or save it as .json")
        return reactor_faces.write(path, identity.embedding)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = identity.to_dict()
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    else:
        metadata = {key: value for key, value in data.items() if key != "embedding"}
        with open(path, "wb") as handle:
            np.savez(handle, embedding=identity.embedding, metadata=np.array(json.dumps(metadata)))
    return path


def load(path: str | Path, suffix: str | None = None) -> FaceIdentity:
    """Read and validate an identity file written by ``save``, or a ReActor face model; ``suffix`` gives the
    format when the file's name does not (an upload)."""
    path = Path(path)
    kind = (suffix or path.suffix).lower()
    if not path.is_file() and kind == reactor_faces.SUFFIX:
        raise InvalidParameterError(
            f"ReActor face model not found: {path} (names are looked for in "
            f"{', '.join(map(str, reactor_faces.faces_dirs()))})")
    if not path.is_file():
        raise InvalidParameterError(f"identity file not found: {path} (save one with Save Face Identity first)")
    if kind == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise InvalidParameterError(
                f"identity file {path} is not valid JSON (line {error.lineno}, column {error.colno})") from None
        except (ValueError, RecursionError):  # not UTF-8, a number of over 4300 digits, nested too deep
            raise InvalidParameterError(f"identity file {path} is not valid JSON text") from None
        return FaceIdentity.from_dict(data, origin=str(path))
    if kind == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                data = json.loads(str(archive["metadata"]))
                if not isinstance(data, dict):
                    raise ValueError("the metadata is not a JSON object")
                data["embedding"] = archive["embedding"]
        except (OSError, ValueError, KeyError, EOFError, RecursionError, zipfile.BadZipFile, zlib.error):
            raise InvalidParameterError(
                f"identity file {path} is not a valid identity .npz (a zip of the arrays 'embedding' and "
                "'metadata', as Save Face Identity writes it)") from None
        return FaceIdentity.from_dict(data, origin=str(path))
    if kind == reactor_faces.SUFFIX:
        created = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return FaceIdentity(reactor_faces.read_embedding(path), name=path.stem, space=ARCFACE.name,
                            created=created, sources=[f"ReActor face model {path.name}"])
    raise InvalidParameterError(f"identity files end in {', '.join(SUFFIXES)}, got '{path.name}'")


def suffix_of_content(head: bytes) -> str | None:
    """The identity format the first bytes of a file show (``.json``, ``.npz``, ``.safetensors``), or None for
    anything else, such as a photo. For uploads, whose names are not to be trusted. A safetensors file starts
    with its header's length (8 bytes, little-endian) and the header's ``{``; no image format does both."""
    if head.lstrip()[:1] == b"{":
        return ".json"
    if head[:4] == b"PK\x03\x04":  # a zip: what np.savez writes
        return ".npz"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= reactor_faces.MAX_BYTES:
        return reactor_faces.SUFFIX
    return None


def load_if_identity(path: str | Path) -> FaceIdentity | None:
    """The identity in an uploaded file whose content is one (checked as ``load`` checks), else None."""
    with open(path, "rb") as handle:
        suffix = suffix_of_content(handle.read(16))
    return None if suffix is None else load(path, suffix)


def recognition_available() -> bool:
    """True when ArcFace embeddings can be computed (buffalo_l installed)."""
    from ..engine import recognition

    return recognition.is_available()


def can_embed(face: Face) -> bool:
    """Whether ``embedding_of`` will work for this face."""
    return face.embedding is not None or recognition_available()


def embed(image: np.ndarray, face: Face) -> np.ndarray:
    """(512,) normalised ArcFace embedding computed from the image (ModelMissingError without buffalo_l)."""
    from ..engine import recognition

    return _checked_embedding(recognition.embed(image, face), "face embedding")


def embedding_of(image: np.ndarray | None, face: Face) -> np.ndarray:
    """(512,) normalised embedding: the one the detector stored on the face, else computed from the image."""
    if face.embedding is not None:
        return _checked_embedding(face.embedding, "face embedding")
    if image is None:
        raise InvalidParameterError("this face carries no embedding and no image to compute one from")
    return embed(image, face)
