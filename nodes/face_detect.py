"""Face Detect, Face Select and Faces To Mask: the FACES node family.

Nodes only convert tensors and call ``pipelines``; everything heavy is imported on first use.
"""

from __future__ import annotations

from ..pipelines.choices import BACKENDS, MASK_SHAPES, ORDERS
from .compat import Progress, check_interrupted

CATEGORY = "PLAYALTER/faces"


class PlayAlterFaceDetect:
    DESCRIPTION = (
        "Find faces in every image of the batch. 'auto' uses insightface buffalo_l (landmarks, age, sex, "
        "identity embedding) when its files are installed, else the embedded CenterFace detector. "
        "Outputs the faces, a preview with numbered boxes, the total face count and the faces as JSON."
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
            },
        }

    def detect(self, image, backend, threshold, max_side, order, analyse=True):
        from ..pipelines.detection import detect_faces_batch
        from ..pipelines.draw import draw_faces
        from ..pipelines.face import faces_to_json
        from .tensors import image_batch_to_numpy, numpy_to_image_batch

        frames = image_batch_to_numpy(image)
        progress = Progress(len(frames))
        check_interrupted()
        faces = detect_faces_batch(frames, on_image=lambda _: progress.update(), backend=backend,
                                   threshold=threshold, max_side=max_side, order=order, analyse=analyse)
        previews = [draw_faces(frame, image_faces) for frame, image_faces in zip(frames, faces)]
        count = sum(len(image_faces) for image_faces in faces)
        return faces, numpy_to_image_batch(previews), count, faces_to_json(faces)


class PlayAlterFaceSelect:
    DESCRIPTION = (
        "Keep some of the faces of every image: re-order them, pick indices such as \"0,2\" (counted from 0 "
        "after ordering), drop faces smaller than min_size pixels, keep at most max_count (0 = all)."
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
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, indices=""):
        from ..pipelines.errors import InvalidParameterError
        from ..pipelines.selection import parse_indices

        try:
            parse_indices(indices)
        except InvalidParameterError as error:
            return str(error)
        return True

    def select(self, faces, order, indices, min_size, max_count):
        from ..pipelines.face import faces_to_json
        from ..pipelines.selection import select_faces

        chosen = [
            select_faces(image_faces, indices=indices, min_size=min_size, max_count=max_count,
                         order=None if order == "keep" else order)
            for image_faces in faces
        ]
        return chosen, sum(len(image_faces) for image_faces in chosen), faces_to_json(chosen)


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
        from ..pipelines.errors import InvalidParameterError
        from ..pipelines.face_mask import faces_mask
        from .tensors import numpy_to_mask_batch

        batch, height, width = int(image.shape[0]), int(image.shape[1]), int(image.shape[2])
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


NODE_CLASS_MAPPINGS = {
    "PlayAlterFaceDetect": PlayAlterFaceDetect,
    "PlayAlterFaceSelect": PlayAlterFaceSelect,
    "PlayAlterFacesToMask": PlayAlterFacesToMask,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PlayAlterFaceDetect": "Face Detect (PLAYALTER)",
    "PlayAlterFaceSelect": "Face Select (PLAYALTER)",
    "PlayAlterFacesToMask": "Faces To Mask (PLAYALTER)",
}
