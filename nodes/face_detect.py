"""Face Detect, Face Select and Faces To Mask: the FACES node family.

Nodes only convert tensors and call ``pipelines``; everything heavy is imported on first use.
"""

from __future__ import annotations

from ..pipelines.core.choices import BACKENDS, MASK_SHAPES, ORDERS, PEOPLE, REPORT_MESH_FORMATS
from .compat import Progress, check_interrupted
from .identity import REFERENCE_INPUTS, reference_from_inputs
from .validation import first_error

CATEGORY = "PLAYALTER/faces"


class PlayAlterFaceDetect:
    DESCRIPTION = (
        "Find faces in every image of the batch. 'auto' uses insightface buffalo_l (landmarks, age, sex, "
        "identity embedding) when its files are installed, else the embedded CenterFace detector. With "
        "dense_landmarks, every face of at least 24 px also gets MediaPipe's 468-point 3D mesh and irises. "
        "Outputs the faces, a preview with numbered boxes and landmarks (the mesh points when present), the "
        "total face count and the faces as JSON."
    )
    CATEGORY = CATEGORY
    FUNCTION = "detect"
    RETURN_TYPES = ("FACES", "IMAGE", "INT", "STRING")
    RETURN_NAMES = ("faces", "preview", "face_count", "faces_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "backend": (list(BACKENDS), {"default": "auto", "tooltip": "detector; auto = best installed"}),
                "threshold": ("FLOAT", {"default": 0.5, "min": 0.05, "max": 0.95, "step": 0.01,
                                        "tooltip": "detector confidence needed to keep a face"}),
                "max_side": ("INT", {"default": 1280, "min": 0, "max": 8192, "step": 32,
                                     "tooltip": "longest side the detector sees in one pass; bigger images "
                                                "are refined around small faces; 0 = full resolution"}),
                "order": (list(ORDERS), {"default": "largest", "tooltip": "how faces are numbered"}),
            },
            "optional": {
                "analyse": ("BOOLEAN", {"default": True,
                                        "tooltip": "buffalo_l only: landmarks, age, sex and embedding"}),
                "dense_landmarks": ("BOOLEAN", {"default": True,
                                                "tooltip": "MediaPipe Face Mesh: 468 3D points and irises per face"}),
            },
        }

    def detect(self, image, backend, threshold, max_side, order, analyse=True, dense_landmarks=True):
        from ..pipelines.engine.detection import detect_faces_batch
        from .tensors import image_batch_to_numpy

        frames = image_batch_to_numpy(image)
        progress = Progress(len(frames))
        check_interrupted()
        faces = detect_faces_batch(frames, on_image=lambda _: progress.update(), backend=backend,
                                   threshold=threshold, max_side=max_side, order=order, analyse=analyse,
                                   dense=dense_landmarks)
        return detection_outputs(frames, faces)


def detection_outputs(frames, faces) -> tuple:
    """A detector node's outputs (faces, preview, face_count, faces_json) for the faces found in ``frames``
    (uint8 [H,W,3] each): the preview draws each image's faces on it."""
    from ..pipelines.engine.draw import draw_faces
    from ..pipelines.engine.face import faces_to_json
    from .tensors import numpy_to_image_batch

    previews = [draw_faces(frame, image_faces) for frame, image_faces in zip(frames, faces)]
    count = sum(len(image_faces) for image_faces in faces)
    return faces, numpy_to_image_batch(previews), count, faces_to_json(faces)


class PlayAlterFaceSelect:
    DESCRIPTION = (
        "Keep some of the faces of every image: re-order them, pick indices such as \"0,2\" (counted from 0 "
        "after ordering), drop faces smaller than min_size pixels, keep at most max_count (0 = all). By "
        "reference: people 'only' keeps the faces of the person(s) in reference_image or reference_identity, "
        "'everyone_except' every other face (connect the image the faces were found on)."
    )
    CATEGORY = CATEGORY
    FUNCTION = "select"
    RETURN_TYPES = ("FACES", "INT", "STRING")
    RETURN_NAMES = ("faces", "face_count", "faces_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "faces": ("FACES",),
                "order": (["keep", *ORDERS], {"default": "keep", "tooltip": "re-order before picking"}),
                "indices": ("STRING", {"default": "", "tooltip": "e.g. 0,2 ; empty = every face"}),
                "min_size": ("INT", {"default": 0, "min": 0, "max": 8192,
                                     "tooltip": "minimum face size in pixels (sqrt of box area)"}),
                "max_count": ("INT", {"default": 0, "min": 0, "max": 1024, "tooltip": "0 = no limit"}),
            },
            "optional": {
                "image": ("IMAGE", {"tooltip": "by reference: the image(s) the faces were detected on"}),
                "people": (list(PEOPLE), {"default": "everyone",
                                          "tooltip": "by reference: only the reference people, or everyone "
                                                     "except them"}),
                **REFERENCE_INPUTS,
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, indices=""):
        from ..pipelines.engine.selection import parse_indices

        return first_error(lambda: parse_indices(indices))

    def select(self, faces, order, indices, min_size, max_count, image=None, people="everyone",
               reference_image=None, reference_identity=None, identity_model="auto"):
        from ..pipelines.engine.face import faces_to_json
        from ..pipelines.engine.selection import select_faces

        if people != "everyone":
            faces = _by_reference(faces, image, people,
                                  reference_from_inputs(reference_identity, reference_image, identity_model))
        chosen = [
            select_faces(image_faces, indices=indices, min_size=min_size, max_count=max_count,
                         order=None if order == "keep" else order)
            for image_faces in faces
        ]
        return chosen, sum(len(image_faces) for image_faces in chosen), faces_to_json(chosen)


def _by_reference(faces, image, people: str, reference):
    """The faces of each image that ``people`` keeps ("only" the reference people, or "everyone_except" them)."""
    from ..pipelines.core.errors import InvalidParameterError
    from ..pipelines.engine.reference import acted_on
    from .tensors import image_batch_to_numpy

    if image is None:
        raise InvalidParameterError("choosing faces by reference needs the image the faces were detected on: "
                                    "connect it to Face Select's image input")
    frames = image_batch_to_numpy(image)
    if len(frames) != len(faces):
        raise InvalidParameterError(f"Face Select got faces for {len(faces)} images but an IMAGE batch of "
                                    f"{len(frames)}: connect the image the faces were detected on")
    chosen = []
    for frame, image_faces in zip(frames, faces):
        keep, _ = acted_on(frame, image_faces, reference, people)
        chosen.append([face for face, flag in zip(image_faces, keep) if flag])
    return chosen


class PlayAlterFacesToMask:
    DESCRIPTION = (
        "A MASK covering the faces: their boxes or the ellipses inside them, grown (or shrunk, when negative) "
        "by 'grow' pixels. The image only gives the mask size; one FACES list per image, or one for all."
    )
    CATEGORY = CATEGORY
    FUNCTION = "to_mask"
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("mask",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "faces": ("FACES",),
                "image": ("IMAGE",),
                "shape": (list(MASK_SHAPES), {"default": "box"}),
                "grow": ("INT", {"default": 0, "min": -512, "max": 512, "tooltip": "pixels added on every side"}),
            }
        }

    def to_mask(self, faces, image, shape, grow):
        from ..pipelines.core.errors import InvalidParameterError
        from ..pipelines.engine.face_mask import faces_mask
        from .tensors import image_batch_size, numpy_to_mask_batch

        batch, height, width = image_batch_size(image)
        if len(faces) not in (1, batch):
            raise InvalidParameterError(
                f"Faces To Mask got faces for {len(faces)} images but an IMAGE batch of {batch}: "
                "connect the FACES detected on this same image batch"
            )
        progress = Progress(batch)
        masks = []
        for index in range(batch):
            masks.append(faces_mask(height, width, faces[index if len(faces) == batch else 0], shape, grow))
            progress.update()
        return (numpy_to_mask_batch(masks),)


class PlayAlterFaceReport:
    DESCRIPTION = (
        "The faces as a readable JSON report: per face its box, score, keypoints, head pose, the models that "
        "produced them, the landmark model's presence score and, when connected and included, the measurements "
        "(value, uncertainty, valid, reason). The 468 dense landmarks and the metric mesh (mm; JSON or OBJ text) "
        "only when asked for. require_face makes an image without faces an error (no_face)."
    )
    CATEGORY = CATEGORY
    FUNCTION = "report"
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("report_json",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {"faces": ("FACES",)},
            "optional": {
                "measurements": ("MEASUREMENTS",),
                "include_measurements": ("BOOLEAN", {"default": True,
                                                     "tooltip": "add the connected measurements per face"}),
                "include_landmarks": ("BOOLEAN", {"default": False, "tooltip": "add the 468 dense points per face"}),
                "mesh_format": (list(REPORT_MESH_FORMATS), {"default": "none",
                                                            "tooltip": "add the metric face mesh (mm) per face"}),
                "require_face": ("BOOLEAN", {"default": False, "tooltip": "fail (no_face) when no face was found"}),
            },
        }

    def report(self, faces, measurements=None, include_measurements=True, include_landmarks=False,
               mesh_format="none", require_face=False):
        import json

        from ..pipelines.engine.face_report import faces_report

        chosen = measurements if include_measurements else None
        return (json.dumps(faces_report(faces, chosen, include_landmarks, mesh_format, require_face)),)


NODE_CLASS_MAPPINGS = {
    "PlayAlterFaceDetect": PlayAlterFaceDetect,
    "PlayAlterFaceReport": PlayAlterFaceReport,
    "PlayAlterFaceSelect": PlayAlterFaceSelect,
    "PlayAlterFacesToMask": PlayAlterFacesToMask,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PlayAlterFaceDetect": "Face Detect (PLAYALTER)",
    "PlayAlterFaceReport": "Face Report (PLAYALTER)",
    "PlayAlterFaceSelect": "Face Select (PLAYALTER)",
    "PlayAlterFacesToMask": "Faces To Mask (PLAYALTER)",
}
