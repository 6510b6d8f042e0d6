"""Face Swap, Face Compatibility, Save / Load Face Identity: the swap node family.

Nodes convert tensors and call ``pipelines.swap``; everything heavy is imported on first use.
"""

from __future__ import annotations

import json

from ..pipelines.swap.choices import (BLEND_MODES, COLOR_MODES, METHODS, OUTPUT_SIZES, PAIRING_MODES, RESTORE_MODELS,
                                      SWAP_MODELS)
from .compat import Progress, check_interrupted
from .identity import IDENTITY_MODEL_INPUT, reference_from_inputs
from .validation import first_error

CATEGORY = "PLAYALTER/swap"


def _check_indices(text: str) -> None:
    from ..pipelines.engine.selection import parse_indices

    if text.strip().lower() not in ("", "all"):
        parse_indices(text)


class PlayAlterFaceSwap:
    DESCRIPTION = (
        "Put the source face(s) onto the target face(s). 'auto' uses InSwapper (inswapper_128.onnx) when it and the "
        "source's ArcFace embedding are available, else a model-free landmark warp; the report says which ran. Faces "
        "are detected internally unless FACES are connected. Indices like \"0,2\" or \"all\" choose faces; pairing "
        "'order' maps the i-th source onto the i-th target, 'identity' swaps the target face nearest to the person "
        "of reference_identity or reference_image (its largest face) when it is within the model's same-person "
        "distance, so a frame without that person is left unchanged. With enabled = false the target passes through "
        "unchanged (use it to gate the swap on Face Compatibility). swap_model picks the learned model (auto: the "
        "first installed of HyperSwap 1a/1b/1c, ReSwapper 256, InSwapper 128); output_size above the model's size "
        "runs it over a sub-pixel grid (pixel boost); swap_weight below 1 keeps some of the target's identity. "
        "restore_model restores each swapped face (GFPGAN, CodeFormer, GPEN-BFR, RestoreFormer++ from "
        "ComfyUI/models/facerestore_models/) inside what the swap drew, blended by restore_strength."
    )
    CATEGORY = CATEGORY
    FUNCTION = "swap"
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "report_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "target": ("IMAGE", {"tooltip": "image(s) whose faces get replaced"}),
                "method": (list(METHODS), {"default": "auto"}),
                "source_indices": ("STRING", {"default": "0", "tooltip": "source faces per source image: 0,2 / all"}),
                "target_indices": ("STRING", {"default": "0", "tooltip": "target faces to replace: 0,2 / all"}),
                "pairing": (list(PAIRING_MODES), {"default": "index"}),
                "average_sources": ("BOOLEAN", {"default": False,
                                                "tooltip": "average every chosen source face into one identity"}),
                "color_correction": (list(COLOR_MODES), {"default": "lab"}),
                "blend_mode": (list(BLEND_MODES), {"default": "feather"}),
                "feather": ("FLOAT", {"default": 0.06, "min": 0.0, "max": 1.0, "step": 0.01,
                                      "tooltip": "edge softness as a fraction of the face size"}),
                "occlusion": ("BOOLEAN", {"default": True, "tooltip": "keep hands/hair/objects over the face"}),
                "mouth": ("BOOLEAN", {"default": True, "tooltip": "keep the target's mouth interior"}),
                "sharpen": ("FLOAT", {"default": 0.3, "min": 0.0, "max": 1.0, "step": 0.05}),
                "denoise": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.05}),
            },
            "optional": {
                "source": ("IMAGE", {"tooltip": "photo(s) of the face to put in (a batch = several sources); "
                                                "not needed with a saved identity"}),
                "source_faces": ("FACES",),
                "target_faces": ("FACES",),
                "identity": ("FACE_IDENTITY", {"tooltip": "a saved identity instead of the source photo"}),
                "reference_identity": ("FACE_IDENTITY", {"tooltip": "pairing 'identity': the person to replace"}),
                "enabled": ("BOOLEAN", {"default": True, "tooltip": "false: pass the target through unchanged"}),
                "reference_image": ("IMAGE", {"tooltip": "pairing 'identity': a photo of the person to replace "
                                                         "(its largest face)"}),
                "identity_model": IDENTITY_MODEL_INPUT,
                "swap_model": (list(SWAP_MODELS), {"default": "auto", "tooltip": "the learned swap model"}),
                "output_size": (list(OUTPUT_SIZES), {"default": 128, "tooltip": "side of the swapped face in "
                                                     "pixels; above the model's own size: pixel boost"}),
                "swap_weight": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                          "tooltip": "1: the source's identity; 0: the target's own"}),
                "restore_model": (["none", *RESTORE_MODELS], {"default": "none",
                                                               "tooltip": "restore the swapped faces with this model"}),
                "restore_strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                               "tooltip": "0 = unrestored, 1 = fully restored"}),
                "codeformer_fidelity": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05,
                                                  "tooltip": "CodeFormer only: 0 = most restoration, "
                                                             "1 = closest to the swapped face"}),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, source_indices="0", target_indices="0"):
        return first_error(lambda: _check_indices(source_indices), lambda: _check_indices(target_indices))

    def swap(self, target, method, source_indices, target_indices, pairing, average_sources, color_correction,
             blend_mode, feather, occlusion, mouth, sharpen, denoise, source=None, source_faces=None,
             target_faces=None, identity=None, reference_identity=None, reference_image=None,
             identity_model="auto", enabled=True, swap_model="auto", output_size=128, swap_weight=1.0,
             restore_model="none", restore_strength=1.0, codeformer_fidelity=0.5):
        from ..pipelines.core.errors import InvalidParameterError
        from ..pipelines.swap.pipeline import swap_batch
        from ..pipelines.swap.request import swap_request
        from .tensors import image_batch_to_numpy, numpy_to_image_batch

        if not enabled:
            report = {"skipped": True, "reason": "the 'enabled' input is false (e.g. the compatibility check "
                                                 "did not pass); the target is returned unchanged"}
            return target, json.dumps(report)
        if source is None and identity is None:
            raise InvalidParameterError("Face Swap needs a source image or a saved identity: connect one of them")
        options = swap_request({  # the CLI's and the HTTP video job's builder: the same inputs mean the same swap
            "method": method, "pairing": pairing, "target_indices": target_indices,
            "color_correction": color_correction, "blend_mode": blend_mode, "feather": feather,
            "occlusion": occlusion, "mouth": mouth, "sharpen": sharpen, "denoise": denoise,
            "swap_model": swap_model, "output_size": output_size, "swap_weight": swap_weight,
            "restore_model": restore_model, "restore_strength": restore_strength,
            "codeformer_fidelity": codeformer_fidelity,
        })
        targets = image_batch_to_numpy(target, "target")
        progress = Progress(len(targets))
        check_interrupted()
        sources = [] if source is None else image_batch_to_numpy(source, "source")
        outputs, reports = swap_batch(
            sources, targets, source_faces, target_faces, options,
            source_indices=source_indices, average_sources=average_sources, saved_identity=identity,
            reference=reference_from_inputs(reference_identity, reference_image, identity_model),
            on_image=lambda _: progress.update(),
        )
        return numpy_to_image_batch(outputs), json.dumps({"images": reports})


class PlayAlterFaceCompatibility:
    DESCRIPTION = (
        "Score how well a source face suits a target face before swapping (0-100): head pose, size and "
        "resolution, skin tone (delta E), face shape (FLAME fits when connected, else landmarks), expression, "
        "occluders, age/sex and identity when the models are present. 'compatible' is score >= threshold: "
        "connect it to Face Swap's 'enabled' input to gate the swap. One score per target image (source image 0); "
        "'card' pictures each pair with its score and a bar per factor."
    )
    CATEGORY = CATEGORY
    FUNCTION = "check"
    RETURN_TYPES = ("FLOAT", "BOOLEAN", "STRING", "IMAGE")
    RETURN_NAMES = ("score", "compatible", "report_json", "card")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "source": ("IMAGE",),
                "target": ("IMAGE",),
                "source_index": ("INT", {"default": 0, "min": 0, "max": 1024}),
                "target_index": ("INT", {"default": 0, "min": 0, "max": 1024}),
                "threshold": ("FLOAT", {"default": 50.0, "min": 0.0, "max": 100.0, "step": 1.0,
                                        "tooltip": "score needed for compatible = true"}),
            },
            "optional": {
                "source_faces": ("FACES",),
                "target_faces": ("FACES",),
                "source_flame": ("FLAME_FIT",),
                "target_flame": ("FLAME_FIT",),
            },
        }

    def check(self, source, target, source_index, target_index, threshold, source_faces=None, target_faces=None,
              source_flame=None, target_flame=None):
        from ..pipelines.swap.compatibility import compatibility
        from ..pipelines.swap.compatibility_card import draw_card
        from ..pipelines.swap.pairing import chosen_indices
        from ..pipelines.swap.pipeline import detect_all
        from .tensors import image_batch_to_numpy, numpy_to_image_batch

        source_image = image_batch_to_numpy(source, "source")[0]
        targets = image_batch_to_numpy(target, "target")
        source_face_list = detect_all([source_image], None if source_faces is None else source_faces[:1], "source")[0]
        target_face_lists = detect_all(targets, target_faces, "target")
        source_face = source_face_list[chosen_indices(str(source_index), len(source_face_list), "source")[0]]
        source_fit = _fit(source_flame, 0, source_index)
        progress = Progress(len(targets))
        results, cards = [], []
        for number, (image, faces) in enumerate(zip(targets, target_face_lists)):
            target_face = faces[chosen_indices(str(target_index), len(faces), "target")[0]]
            result = compatibility(source_image, source_face, image, target_face, source_fit,
                                   _fit(target_flame, number, target_index))
            results.append(result)
            cards.append(draw_card(source_image, source_face, image, target_face, result, threshold))
            progress.update()
        score = min(result["score"] for result in results)
        compatible = score >= threshold
        report = {"score": score, "threshold": threshold, "compatible": compatible, "images": results}
        return score, compatible, json.dumps(report), numpy_to_image_batch(cards)


def _fit(fits, image_number: int, face_index: int):
    """The FLAME fit of one face from a FLAME_FIT batch (list per image), or None."""
    if not fits or image_number >= len(fits) or face_index >= len(fits[image_number]):
        return None
    return fits[image_number][face_index]


class PlayAlterSaveFaceIdentity:
    DESCRIPTION = (
        "Average the chosen faces of every image in the batch (several photos of one person) into one identity "
        "and save it under a name, so later swaps or face-by-reference choices can load it instead of analysing "
        "photos again. The file records its model: ArcFace (buffalo_l; what a swap needs) or dlib (licence-clean; "
        "for choosing faces). auto = ArcFace when buffalo_l is installed, else dlib. check_json says whether "
        "the photos show one person: each photo's distance to the average of the others; with "
        "check_one_person on, photos of different people are refused. more_images takes photos of another "
        "size. file_format safetensors writes a ReActor face model into ComfyUI/models/reactor/faces."
    )
    CATEGORY = CATEGORY
    FUNCTION = "save"
    OUTPUT_NODE = True
    RETURN_TYPES = ("FACE_IDENTITY", "STRING", "STRING")
    RETURN_NAMES = ("identity", "path", "check_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE",),
                "name": ("STRING", {"default": "person"}),
                "indices": ("STRING", {"default": "0", "tooltip": "faces per image to average: 0 / 0,2 / all"}),
                "file_format": (["json", "npz", "safetensors"], {
                    "default": "json", "tooltip": "json / npz: ours; safetensors: a ReActor face model (ArcFace)"}),
            },
            "optional": {
                "faces": ("FACES", {"tooltip": "the faces detected on images (not on more_images)"}),
                "identity_model": IDENTITY_MODEL_INPUT,
                "more_images": ("IMAGE", {"tooltip": "more photos of the person, of another size than images"}),
                "check_one_person": ("BOOLEAN", {"default": True, "tooltip": "refuse photos of different people"}),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, name="person", indices="0"):
        from ..pipelines.swap import identity

        return first_error(lambda: _check_indices(indices), lambda: identity.path_for(name))

    def save(self, images, name, indices, file_format, faces=None, identity_model="auto", more_images=None,
             check_one_person=True):
        from ..pipelines.engine import embedding, reference
        from ..pipelines.swap import identity
        from ..pipelines.swap.pipeline import sources_from_faces, detect_all
        from .tensors import image_batch_to_numpy

        frames = image_batch_to_numpy(images, "images")
        found = detect_all(frames, faces, "source")
        if more_images is not None:
            more = image_batch_to_numpy(more_images, "more_images")
            frames, found = frames + more, found + detect_all(more, None, "source")
        sources = sources_from_faces(frames, found, indices, average=False)
        carried = identity_model == "auto" and all(source.face.embedding is not None for source in sources)
        space = embedding.ARCFACE if carried else embedding.resolve_space(identity_model)  # detector's ArcFace
        embeddings = [reference.face_embedding(source.image, source.face, space) for source in sources]
        built, check = identity.from_photos(embeddings, [source.label for source in sources], space, name,
                                            check=check_one_person)
        path = identity.save(built, identity.path_for(name, f".{file_format}"))
        return {"ui": {"text": [str(path)]}, "result": (built, str(path), json.dumps(check))}


class PlayAlterLoadFaceIdentity:
    DESCRIPTION = (
        "Load a face identity by name: one saved by Save Face Identity (name.json / name.npz, from the identities "
        "folder), or a ReActor face model (name.safetensors, from ComfyUI/models/reactor/faces) as an ArcFace "
        "identity."
    )
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = ("FACE_IDENTITY", "STRING")
    RETURN_NAMES = ("identity", "identity_json")

    @classmethod
    def INPUT_TYPES(cls):
        from ..pipelines.swap import identity

        return {"required": {"name": ("STRING", {"default": "person.json",
                                                 "tooltip": f"one of: {', '.join(identity.saved_names()) or '-'}"})}}

    @classmethod
    def VALIDATE_INPUTS(cls, name="person.json"):
        from ..pipelines.swap import identity

        return first_error(lambda: identity.path_for(name))

    @classmethod
    def IS_CHANGED(cls, name="person.json"):
        from ..pipelines.swap import identity

        path = identity.path_for(name)
        return path.stat().st_mtime if path.is_file() else ""

    def load(self, name):
        from ..pipelines.swap import identity

        loaded = identity.load(identity.path_for(name))
        summary = {key: value for key, value in loaded.to_dict().items() if key != "embedding"}
        return loaded, json.dumps(summary)


NODE_CLASS_MAPPINGS = {
    "PlayAlterFaceSwap": PlayAlterFaceSwap,
    "PlayAlterFaceCompatibility": PlayAlterFaceCompatibility,
    "PlayAlterSaveFaceIdentity": PlayAlterSaveFaceIdentity,
    "PlayAlterLoadFaceIdentity": PlayAlterLoadFaceIdentity,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "PlayAlterFaceSwap": "Face Swap (PLAYALTER)",
    "PlayAlterFaceCompatibility": "Face Compatibility (PLAYALTER)",
    "PlayAlterSaveFaceIdentity": "Save Face Identity (PLAYALTER)",
    "PlayAlterLoadFaceIdentity": "Load Face Identity (PLAYALTER)",
}
