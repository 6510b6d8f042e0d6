"""Face Similarity, and the reference inputs that let other nodes pick faces by who they are.

A reference is a saved identity (FACE_IDENTITY, from Load Face Identity) or a photo (IMAGE: one person
per image of the batch, its largest face); ``identity_model`` chooses the model that embeds photos.
Everything heavy is imported on first use.
"""

from __future__ import annotations

import json

from ..pipelines.core.choices import IDENTITY_MODELS

CATEGORY = "PLAYALTER/faces"

IDENTITY_MODEL_INPUT = (list(IDENTITY_MODELS), {
    "default": "auto", "tooltip": "the model that compares faces: auto = ArcFace when buffalo_l is installed, "
                                  "else dlib's descriptor (licence-clean, fetched on first use)"})
REFERENCE_INPUTS = {
    "reference_image": ("IMAGE", {"tooltip": "photo(s) of the person(s) to look for, one per image: the "
                                             "largest face of each"}),
    "reference_identity": ("FACE_IDENTITY", {"tooltip": "a saved identity of the person to look for"}),
    "identity_model": IDENTITY_MODEL_INPUT,
}


def reference_from_inputs(reference_identity=None, reference_image=None, identity_model: str = "auto"):
    """The people to look for: the saved identity, else the largest face of each reference image, else None."""
    if reference_identity is not None:
        from ..pipelines.swap.identity import reference_of

        return reference_of([reference_identity])
    if reference_image is None:
        return None
    from ..pipelines.engine import embedding, reference
    from .tensors import image_batch_to_numpy

    return reference.from_photos(image_batch_to_numpy(reference_image, "reference_image"),
                                 embedding.resolve_space(identity_model))


class PlayAlterFaceSimilarity:
    DESCRIPTION = (
        "Is this the same person? The distance between a face of the image and a face of the reference, one image "
        "each (a batch of several is refused): the largest face of each unless an index says otherwise (indices "
        "count from the largest face); same_person at the model's threshold, and the model used with its licence. "
        "ArcFace (buffalo_l, cosine distance) when installed, else dlib's descriptor (Euclidean distance)."
    )
    CATEGORY = CATEGORY
    FUNCTION = "compare"
    RETURN_TYPES = ("FLOAT", "BOOLEAN", "STRING")
    RETURN_NAMES = ("distance", "same_person", "report_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "reference": ("IMAGE",),
                "face_index": ("INT", {"default": 0, "min": 0, "max": 1024, "tooltip": "0 = the largest face"}),
                "reference_face_index": ("INT", {"default": 0, "min": 0, "max": 1024,
                                                 "tooltip": "0 = the largest face"}),
            },
            "optional": {
                "identity_model": IDENTITY_MODEL_INPUT,
                "faces": ("FACES", {"tooltip": "the faces detected on image (detected here when not connected)"}),
                "reference_faces": ("FACES", {"tooltip": "the faces detected on reference"}),
            },
        }

    def compare(self, image, reference, face_index, reference_face_index, identity_model="auto", faces=None,
                reference_faces=None):
        from ..pipelines.engine.similarity import compare_faces

        image_frame, image_faces = _one_image(image, faces, "image")
        reference_frame, faces_of_reference = _one_image(reference, reference_faces, "reference")
        result = compare_faces(image_frame, reference_frame, face_index, reference_face_index, identity_model,
                               image_faces, faces_of_reference)
        return result["distance"], result["same_person"], json.dumps(result)


def _one_image(images, faces, name: str):
    """The single image of the IMAGE input ``name`` (uint8 [H,W,3]) and its faces (None: detect them): the node
    gives one distance, so a batch of several images is refused rather than all but the first ignored."""
    from ..pipelines.core.errors import InvalidParameterError
    from ..pipelines.engine.face import check_on_image
    from .tensors import image_batch_to_numpy

    frames = image_batch_to_numpy(images, name)
    if len(frames) != 1:
        raise InvalidParameterError(f"Face Similarity compares one image with one reference, but {name} holds a "
                                    f"batch of {len(frames)} images: pick one (e.g. with Image From Batch)")
    if faces is None:
        return frames[0], None
    if len(faces) != 1:
        raise InvalidParameterError(f"the FACES connected for {name} describe {len(faces)} images, but {name} is "
                                    "one image: connect the faces detected on it")
    check_on_image(faces[0], frames[0].shape[1], frames[0].shape[0], name)
    return frames[0], faces[0]


NODE_CLASS_MAPPINGS = {"PlayAlterFaceSimilarity": PlayAlterFaceSimilarity}
NODE_DISPLAY_NAME_MAPPINGS = {"PlayAlterFaceSimilarity": "Face Similarity (PLAYALTER)"}
