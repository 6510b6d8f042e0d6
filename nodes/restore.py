"""Face Restore: the face restoration node (GFPGAN, CodeFormer, GPEN-BFR, RestoreFormer++ as ONNX files).

The node converts tensors and calls ``pipelines.swap.restore``; everything heavy is imported on first use.
"""

from __future__ import annotations

import json

from ..pipelines.swap.choices import RESTORE_MODELS
from .compat import Progress, check_interrupted

CATEGORY = "PLAYALTER/swap"


class PlayAlterFaceRestore:
    DESCRIPTION = (
        "Restore faces with GFPGAN 1.4, CodeFormer, GPEN-BFR 512 / 1024 or RestoreFormer++ (ONNX files in "
        "ComfyUI/models/facerestore_models/). Every face of every image is restored, or only the faces "
        "connected to 'faces' (Face Detect, then Face Select to choose). The restored face is pasted back only "
        "inside the face's outline (its mesh when Face Detect gave one), feathered; strength blends it with the "
        "unrestored face; codeformer_fidelity is CodeFormer's w (0 = most restoration, 1 = closest to the input)."
    )
    CATEGORY = CATEGORY
    FUNCTION = "restore"
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "report_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "model": (list(RESTORE_MODELS), {"default": "gfpgan_1.4"}),
                "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                       "tooltip": "0 = unchanged, 1 = fully restored"}),
                "codeformer_fidelity": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05,
                                                  "tooltip": "CodeFormer only: 0 = most restoration, "
                                                             "1 = closest to the input face"}),
                "feather": ("FLOAT", {"default": 0.06, "min": 0.0, "max": 1.0, "step": 0.01,
                                      "tooltip": "edge softness as a fraction of the face size"}),
            },
            "optional": {
                "faces": ("FACES", {"tooltip": "restore only these faces (default: every face found)"}),
            },
        }

    def restore(self, image, model, strength, codeformer_fidelity, feather, faces=None):
        from ..pipelines.engine.detection import detect_faces_batch
        from ..pipelines.swap.restore.faces import RestoreOptions, restore_batch
        from .tensors import image_batch_to_numpy, numpy_to_image_batch

        options = RestoreOptions(model, strength, codeformer_fidelity, feather)
        frames = image_batch_to_numpy(image)
        progress = Progress(len(frames))
        check_interrupted()
        chosen = detect_faces_batch(frames) if faces is None else faces
        outputs, reports = restore_batch(frames, chosen, options, on_image=lambda _: progress.update())
        return numpy_to_image_batch(outputs), json.dumps({"images": reports})


NODE_CLASS_MAPPINGS = {"PlayAlterFaceRestore": PlayAlterFaceRestore}
NODE_DISPLAY_NAME_MAPPINGS = {"PlayAlterFaceRestore": "Face Restore (PLAYALTER)"}
