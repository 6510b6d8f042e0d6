"""``swap_faces``: one target image, chosen source faces (or a saved identity), one method, a report.

Method choice (``method="auto"``): a learned swap model when one is installed
(``swap_model``: InSwapper 128, HyperSwap 1a/1b/1c or ReSwapper 256, see
``swappers.py``; method "inswapper" names this learned path whichever model runs)
and the source identity is known (a saved identity, embeddings from the
detector, or ArcFace to compute them); otherwise the classical landmark warp,
which needs the source image. The report names the method and model that ran
and why.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import InvalidParameterError, NoFaceError
from ..engine.embedding import ARCFACE
from ..engine.face import Face, check_faces_of
from ..engine.reference import Reference
from . import classical, identity, inswapper, pairing, report, swappers
from .blend import BlendOptions, BlendResult, blend
from .restore import network as restore_network
from .restore.faces import RestoreOptions, restore_face
from .choices import METHODS, OUTPUT_SIZES, SWAP_MODELS

logger = logging.getLogger(__name__)


@dataclass
class Source:
    """One source identity: a face in a photo, or an embedding alone (a saved identity)."""

    image: np.ndarray | None = None  # [H,W,3] uint8 RGB
    face: Face | None = None
    embedding: np.ndarray | None = None  # (512,) normalised
    label: str = ""


@dataclass(frozen=True)
class SwapOptions:
    method: str = "auto"
    pairing: str = "index"
    target_indices: str = "all"
    blend: BlendOptions = field(default_factory=BlendOptions)
    similarity_report: bool = True
    swap_model: str = "auto"  # which learned model; auto: the first installed (swappers.PREFERENCE)
    output_size: int = 128  # side of the swapped face; above the model's size by pixel boost, never below it
    swap_weight: float = 1.0  # 1: the source's identity; lower blends in the target's own (0: the target's)
    restore: RestoreOptions | None = None  # restore each swapped face, within its blend mask, with this model

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidParameterError(f"swap method '{self.method}' is unknown; choose {', '.join(METHODS)}")
        if self.swap_model not in SWAP_MODELS:
            raise InvalidParameterError(
                f"swap model '{self.swap_model}' is unknown; choose {', '.join(SWAP_MODELS)}")
        if self.output_size not in OUTPUT_SIZES:
            raise InvalidParameterError(
                f"output size {self.output_size} is not offered; choose {', '.join(map(str, OUTPUT_SIZES))}")
        if not 0.0 <= self.swap_weight <= 1.0:
            raise InvalidParameterError(f"swap weight must be between 0 and 1, got {self.swap_weight}")
        if self.pairing not in pairing.PAIRING_MODES:
            raise InvalidParameterError(
                f"pairing mode '{self.pairing}' is unknown; choose {', '.join(pairing.PAIRING_MODES)}")


def sources_from_faces(images: list[np.ndarray], faces: list[list[Face]], indices: str,
                       average: bool) -> list[Source]:
    """Chosen source faces of every source image; with ``average`` one identity averaged over all of them."""
    chosen: list[Source] = []
    for image_number, (image, image_faces) in enumerate(zip(images, faces)):
        if not image_faces:
            raise NoFaceError(
                f"no face was found in source image {image_number}: use a photo with a clearly visible face, "
                "or lower the detection threshold")
        for index in pairing.chosen_indices(indices, len(image_faces), "source"):
            chosen.append(Source(image, image_faces[index], None, f"source image {image_number} face {index}"))
    if not average or len(chosen) <= 1:
        return chosen
    embeddings = [identity.embedding_of(source.image, source.face) for source in chosen]
    first = chosen[0]
    return [Source(first.image, first.face, identity.average(embeddings), f"average of {len(chosen)} faces")]


def with_embeddings(sources: list[Source]) -> list[Source]:
    """Sources with their identity embedding filled in wherever it can be had (stored or ArcFace)."""
    return [
        dataclasses.replace(source, embedding=identity.embedding_of(source.image, source.face))
        if source.embedding is None and source.face is not None and identity.can_embed(source.face) else source
        for source in sources
    ]


def choose_method(requested: str, sources: list[Source], swap_model: str = "auto") -> tuple[str, str]:
    """(method, reason) for sources whose embeddings were filled in by ``with_embeddings``; ``swap_model``
    names the learned model wanted (a named one that is missing is a ModelMissingError)."""
    has_images = all(source.image is not None and source.face is not None for source in sources)
    embeddings_known = all(source.embedding is not None for source in sources)
    if requested == "classical":
        if not has_images:
            raise InvalidParameterError(
                "the classical swap warps the source photo, so it needs a source image, not a saved identity")
        return "classical", "requested"
    model = swappers.choose(swap_model)
    if requested == "inswapper":
        if model is None:
            inswapper.model_path()  # a clear ModelMissingError naming InSwapper's folders
        if not embeddings_known:
            raise InvalidParameterError(
                "InSwapper needs the source's ArcFace embedding: install buffalo_l, detect with it, "
                "or load a saved identity")
        return "inswapper", "requested"
    if model is None:
        if not has_images:
            inswapper.model_path()
        return "classical", ("no swap model (inswapper_128.onnx, hyperswap_*.onnx, reswapper_256.onnx) is "
                             "installed; used the model-free landmark warp")
    if not embeddings_known:
        return "classical", "no ArcFace embedding for the source (buffalo_l not installed); used the landmark warp"
    return "inswapper", f"{model}.onnx found"


def load_swapper(swap_model: str) -> inswapper.Swapper:
    """The learned model a swap runs, once ``choose_method`` chose the learned path."""
    return inswapper.load(model=swappers.choose(swap_model) or inswapper.MODEL)


def target_embedding(image: np.ndarray, face: Face, options: SwapOptions) -> np.ndarray | None:
    """The target face's own ArcFace embedding when the swap weight blends it in, else None."""
    return identity.embedding_of(image, face) if options.swap_weight < 1.0 and identity.can_embed(face) else None


def load_restorer(options: SwapOptions) -> restore_network.Network | None:
    """The restoration model a swap runs after each face (``options.restore``), or None."""
    return restore_network.load(options.restore.model) if options.restore is not None else None


def swap_one(output: np.ndarray, target_image: np.ndarray, face: Face, source: Source, options: SwapOptions,
             swapper: inswapper.Swapper | None, restorer: restore_network.Network | None) -> BlendResult:
    """One target face of ``output`` [H,W,3] uint8 (``target_image`` with earlier faces swapped already)
    replaced by ``source``: the learned model when ``swapper`` is given, else the classical warp; blended;
    then restored with ``restorer`` only where the swap drew (occluders and the kept mouth stay the target's)."""
    if swapper is not None:
        patch = inswapper.swap(swapper, output, face, source.embedding, options.output_size,
                               target_embedding(target_image, face, options), options.swap_weight)
    else:
        patch = classical.swap(source.image, source.face, output, face)
    result = blend(output, patch, face, options.blend)
    if restorer is None:
        return result
    restored, _ = restore_face(restorer, result.image, face, options.restore, within=result.mask)
    return dataclasses.replace(result, image=restored)


def swap_faces(target_image: np.ndarray, target_faces: list[Face], sources: list[Source],
               options: SwapOptions, reference: Reference | None = None) -> tuple[np.ndarray, dict]:
    """Swap the chosen faces of one target image [H,W,3] uint8; returns (image, report dict). Pairing
    ``identity`` swaps the face nearest to ``reference`` when it is that person (none when no face is)."""
    pairs = pairing.pair(len(sources), target_faces, options.pairing, options.target_indices, reference,
                         target_image)
    sources = with_embeddings(sources)
    method, reason = choose_method(options.method, sources, options.swap_model)
    swapper = load_swapper(options.swap_model) if method == "inswapper" else None
    restorer = load_restorer(options)
    output = target_image
    entries = []
    for item in pairs:
        source, target_face = sources[item.source], target_faces[item.target]
        result = swap_one(output, target_image, target_face, source, options, swapper, restorer)
        output = result.image
        entry = {
            "source": source.label,
            "target_index": item.target,
            "target_box": [round(float(value), 1) for value in target_face.bbox],
            "warp": "inswapper" if method == "inswapper" else classical.warp_kind(source.face, target_face),
            "changed_pixels": int(result.mask.sum()),
            "occluded_fraction": round(result.occluded_fraction, 3),
        }
        if item.reference_distance is not None:
            entry["reference_distance"] = round(item.reference_distance, 4)
        if restorer is not None:
            entry["restored"] = {"model": options.restore.model, "strength": options.restore.strength}
        if method == "inswapper":
            entry.update(model=swapper.contract.name, output_size=inswapper.output_side(swapper, options.output_size),
                         swap_weight=options.swap_weight)
        if options.similarity_report:
            entry["similarity"] = report.similarities(output, target_image, target_face, source.embedding)
        entries.append(entry)
    logger.info("swapped %d face(s) with %s", len(entries), method)
    answer = {"method": method, "reason": reason, "swaps": entries}
    if options.pairing == "identity":
        answer["reference"] = reference.describe()  # who was looked for; no swap: no face was that person
    return output, answer


def detect_all(images: list[np.ndarray], faces: list[list[Face]] | None, side: str) -> list[list[Face]]:
    """The given FACES (checked against the batch size and the images), or faces detected with the default
    settings."""
    if faces is None:
        from ..engine.detection import detect_faces

        return [detect_faces(image) for image in images]
    check_faces_of(images, faces, side)
    return faces


def source_of_identity(saved: identity.FaceIdentity) -> Source:
    """A saved identity (ours or a ReActor face model) as the swap's source; it must be an ArcFace one, what
    the learned swap models take."""
    if saved.space != ARCFACE.name:
        raise InvalidParameterError(
            f"identity '{saved.name}' is in the space {saved.space}, but a swap needs an ArcFace "
            f"identity ({ARCFACE.name}, what InSwapper takes); save it again with the ArcFace model (buffalo_l), "
            "or use it as a reference to choose faces")
    return Source(None, None, saved.embedding, f"identity '{saved.name}'")


def swap_batch(source_images: list[np.ndarray], target_images: list[np.ndarray],
               source_faces: list[list[Face]] | None, target_faces: list[list[Face]] | None,
               options: SwapOptions, source_indices: str = "0", average_sources: bool = False,
               saved_identity: identity.FaceIdentity | None = None, reference: Reference | None = None,
               on_image=None) -> tuple[list[np.ndarray], list[dict]]:
    """Swap onto every target image; sources come from the source photos or from a saved identity (an
    ArcFace one: InSwapper takes ArcFace embeddings). Images without a face are kept as they are, so a batch
    of video frames goes through; a batch without any face is an error."""
    if saved_identity is not None:
        sources = [source_of_identity(saved_identity)]
    else:
        sources = with_embeddings(sources_from_faces(
            source_images, detect_all(source_images, source_faces, "source"), source_indices, average_sources))
    all_target_faces = detect_all(target_images, target_faces, "target")
    outputs, reports = [], []
    if not any(all_target_faces):
        raise NoFaceError("no face was found in the target image" + ("s" if len(target_images) > 1 else "")
                          + ": there is nothing to swap onto")
    for number, (image, faces) in enumerate(zip(target_images, all_target_faces)):
        if faces:
            output, image_report = swap_faces(image, faces, sources, options, reference)
        else:  # a frame of a batch where no face was found (turned away, out of shot) is kept as it is
            output, image_report = image, {"swaps": [], "skipped": "no face was found in this image"}
        outputs.append(output)
        reports.append(image_report)
        if on_image is not None:
            on_image(number)
    return outputs, reports
