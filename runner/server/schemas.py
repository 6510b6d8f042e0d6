"""Request bodies: JSON Schemas, checked with ``jsonschema``, and base64 image decoding.

The same schema dicts feed the OpenAPI document (``openapi.py``), so what the
docs say and what the server accepts cannot drift apart. A failed check is an
``ApiError(400, "invalid_request")`` naming the field and what was wrong.
"""

from __future__ import annotations

import binascii
import json
import sys
from typing import Any

from jsonschema import Draft202012Validator

from ...pipelines.core.choices import IDENTITY_MODELS, PEOPLE
from ...pipelines.privacy.choices import COVERAGES, MASK_TYPES, MAX_LEVELS
from ...pipelines.privacy.detection_settings import PRIVACY_DETECTION
from ...pipelines.swap.choices import BLEND_MODES, COLOR_MODES, METHODS, OUTPUT_SIZES, RESTORE_MODELS, SWAP_MODELS
from ...pipelines.core.quoting import excerpt
from .errors import ApiError
from .security.keys import SCOPES, TIERS

MAX_JSON_DEPTH = 32  # levels of arrays / objects in a request body; real requests use 3

IMAGE_BASE64 = {
    "type": "string",
    "minLength": 1,
    "description": "the encoded image (JPEG, PNG, WebP, BMP or TIFF) in base64; a data: URL prefix is accepted",
}
WEBHOOK_URL = {"type": "string", "minLength": 1, "maxLength": 2048,
               "description": "an http(s) URL told when the job ends (job.completed, job.failed, job.cancelled), "
                              "signed per Standard Webhooks; its host must resolve to public addresses"}
FACE_INDEX = {"type": "integer", "minimum": 0, "maximum": 63, "default": 0,
              "description": "which face, in the engine's order (largest first)"}

def object_schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed JSON object schema with these properties."""
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


ANALYZE_PARAMETERS = {
    "include_measurements": {"type": "boolean", "default": True,
                             "description": "return the facial measurements (mm) of every face"},
    "include_landmarks": {"type": "boolean", "default": False,
                          "description": "return the 468 dense landmarks (x, y image px, z depth px) of every face"},
    "include_3d_mesh": {"type": "boolean", "default": False,
                        "description": "return the metric face mesh (mm, MediaPipe topology) of every face; with "
                                       "FLAME, the fit JSON carries the fitted FLAME mesh too"},
    "mesh_format": {"type": "string", "enum": ["json", "obj"], "default": "json",
                    "description": "the mesh as vertices + triangles (json) or as OBJ text (obj)"},
    "measurement_model": {"type": "string", "enum": ["auto", "dense_mesh", "flame"], "default": "auto",
                          "description": "auto: FLAME when a FLAME model is installed, else the dense mesh; "
                                         "flame without a FLAME model is 503 model_missing"},
    "include_sheet": {"type": "boolean", "default": False,
                      "description": "add the measurement sheet (PNG, the image titled sheet): the photo with "
                                     "each distance drawn as a numbered calliper, valid ones green, flagged ones "
                                     "orange with their reason, the scale reference blue (dense mesh)"},
    "scale": {
        "default": "iris",
        "description": "what turns pixels into mm (dense mesh; any scale but iris picks it under auto): iris "
                       "(the iris diameter), card (an ID-1 bank card, 85.60 x 53.98 mm, held flat beside the "
                       "face; not found or too slanted, the iris is used and measurements.scale.warning says "
                       "why), or a known value: the subject's interpupillary distance, the image's mm per px "
                       "at the face, or a segment drawn on the photo (image px) and its length",
        "oneOf": [
            {"type": "string", "enum": ["iris", "card"]},
            object_schema({"ipd_mm": {"type": "number", "exclusiveMinimum": 0}}, ("ipd_mm",)),
            object_schema({"mm_per_px": {"type": "number", "exclusiveMinimum": 0}}, ("mm_per_px",)),
            object_schema({"segment": {"type": "array", "minItems": 2, "maxItems": 2,
                                       "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                                 "items": {"type": "number"}}},
                           "length_mm": {"type": "number", "exclusiveMinimum": 0}}, ("segment", "length_mm")),
        ],
    },
}
PRIVACY_PARAMETERS = {
    "mask_type": {"type": "string", "enum": list(MASK_TYPES), "default": "blur",
                  "description": "how faces are hidden (synthetic needs the inswapper_128 and buffalo_l models)"},
    "strength": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 1.0,
                 "description": "0 = light, 1 = complete anonymisation"},
    "create_levels": {"type": ["boolean", "integer"], "minimum": 0, "maximum": MAX_LEVELS, "default": False,
                      "description": "return several privacy levels at once: true for 4, or the number wanted"},
    "include_audit": {"type": "boolean", "default": False,
                      "description": "re-detect faces on the result and return the privacy audit report"},
    "thorough": {"type": "boolean", "default": PRIVACY_DETECTION.thorough,
                 "description": "a second look for faces: rotated passes and contrast normalisation of dark "
                                "photos (about 2x the detection time, 3x on dark photos)"},
}
SWAP_MODEL_OPTIONS = {  # the Face Swap node's learned-model inputs, with its defaults
    "swap_model": {"type": "string", "enum": list(SWAP_MODELS), "default": "auto",
                   "description": "the learned swap model; auto: the first installed of HyperSwap 1a/1b/1c, "
                                  "ReSwapper 256 and InSwapper 128; a named one that is not installed is 503"},
    "output_size": {"type": "integer", "enum": list(OUTPUT_SIZES), "default": 128,
                    "description": "side of the swapped face in pixels; above the model's own size the model runs "
                                   "over a sub-pixel grid (pixel boost), never below it"},
    "swap_weight": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 1.0,
                    "description": "1: the source's identity; lower blends in the target's own (needs buffalo_l)"},
}
SWAP_RESTORE_OPTIONS = {  # the Face Swap node's face restoration inputs, with its defaults
    "restore_model": {"type": "string", "enum": ["none", *RESTORE_MODELS], "default": "none",
                      "description": "restore each swapped face with this model (its ONNX file in "
                                     "facerestore_models/; one that is not installed is 503); none: no restoration"},
    "restore_strength": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 1.0,
                         "description": "0: unrestored, 1: fully restored"},
    "codeformer_fidelity": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 0.5,
                            "description": "CodeFormer's w: 0 the most restoration, 1 the closest to the swapped face"},
}
SWAP_PARAMETERS = {
    "source_face_index": FACE_INDEX,
    "target_face_index": FACE_INDEX,
    **SWAP_MODEL_OPTIONS,
    **SWAP_RESTORE_OPTIONS,
}
DETECT_PARAMETERS: dict[str, Any] = {}
IDENTITY_MODEL = {"type": "string", "enum": list(IDENTITY_MODELS), "default": "auto",
                  "description": "the model that compares faces: auto = ArcFace when buffalo_l is installed, else "
                                 "dlib's descriptor; a model that cannot be had is 503 (model_missing / "
                                 "dependency_missing)"}
COMPARE_PARAMETERS = {
    "face_index": {**FACE_INDEX, "description": "which face of image_base64, largest first (default: the largest)"},
    "reference_face_index": {**FACE_INDEX, "description": "which face of reference_base64, largest first "
                                                          "(default: the largest)"},
    "identity_model": IDENTITY_MODEL,
}

_NUMBER_OR_NULL = {"type": ["number", "null"]}
POINTS = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
MEASUREMENT = {
    "type": "object",
    "description": "a distance (value_mm, uncertainty_mm) or an index in % (value, uncertainty)",
    "properties": {"label": {"type": "string"}, "value_mm": _NUMBER_OR_NULL, "uncertainty_mm": _NUMBER_OR_NULL,
                   "value": _NUMBER_OR_NULL, "uncertainty": _NUMBER_OR_NULL, "valid": {"type": "boolean"},
                   "reason": {"type": ["string", "null"], "description": "why the value is not valid"},
                   "definition": {"type": "string"},
                   "adult_range_mm": {**POINTS["items"], "description": "the plausible adult range (distances)"},
                   "adult_range": {**POINTS["items"], "description": "the plausible adult range (indices)"},
                   "fusion": {"type": "object", "description": "only when fused over several photos: frames (used), "
                              "spread (their SD), noise_sd (the frame-to-frame part of the uncertainty, falling "
                              "with the frames), scale_sd (the scale reference's own size, the same in every "
                              "frame), outliers dropped and left_out (frames invalid for it, with the reason)"}},
    "required": ["valid", "reason"],
}
FACE_RECORD = {
    "type": "object",
    "description": "one face of the analysed image (index: largest first)",
    "properties": {
        "image": {"type": "integer"}, "index": {"type": "integer"},
        "box": {**POINTS["items"], "minItems": 4, "maxItems": 4, "description": "x1, y1, x2, y2 in pixels"},
        "score": {"type": "number", "description": "detector confidence 0..1"},
        "keypoints": {**POINTS, "description": "5 points: eyes, nose tip, mouth corners (image left first)"},
        "pose": {"type": ["object", "null"], "description": "head pose in degrees", "properties": {
            "yaw": {"type": "number"}, "pitch": {"type": "number"}, "roll": {"type": "number"}}},
        "models": {"type": "object", "properties": {"detector": {"type": ["string", "null"]},
                                                    "landmarks": {"type": ["string", "null"]}}},
        "landmark_score": {**_NUMBER_OR_NULL,
                           "description": "the landmark model's face-presence score 0..1 (below 0.5: doubtful)"},
        "iris": {**POINTS, "description": "iris centre x, y and radius in px: subject's right eye, then left"},
        "measurements": {"type": "object", "properties": {
            "method": {"type": ["string", "null"], "description": "dense_mesh, flame_model or landmark_estimate"},
            "model": {"type": ["string", "null"]}, "units": {"type": "string"},
            "scale": {"type": "object", "description": "mm_per_px, its source (iris, interpupillary_prior, card, "
                      "known_ipd, known_mm_per_px, segment) and relative_sd; card_corners (4 x [x, y] px) for a "
                      "card; warning (and requested) when a card could not be used"},
            "values": {"type": "object", "additionalProperties": MEASUREMENT},
            "fusion": {"type": "object", "description": "only when fused: frames, reference_frame (the photo the "
                       "face record and the sheet show), estimator, scale_by_frame and identity (how one person "
                       "was checked: method, threshold, each photo's distance)"}}},
        "landmarks": {**POINTS, "description": "only with include_landmarks: 468 points x, y px, z depth px"},
        "mesh": {"type": ["object", "null"], "description": "only with include_3d_mesh: vertices (mm) + "
                 "triangles (0-based), or obj text; null for a face too small for dense landmarks"},
    },
    "required": ["image", "index", "box", "score", "keypoints", "pose", "models", "landmark_score"],
}


ASYNC_WEBHOOK_URL = {**WEBHOOK_URL, "description": "with `Prefer: respond-async` only: " + WEBHOOK_URL["description"]}
MAX_FUSED_IMAGES = 16  # photos of one person fused in one call (the CLI and the node take up to 64 frames)
# A single analysis call may fuse several photos of one person (a batch may not: its images are unrelated).
ANALYZE_CALL_PARAMETERS = {
    **ANALYZE_PARAMETERS,
    "fuse": {"type": "boolean", "default": False,
             "description": "with images_base64: the photos show one person (photos of different people are 400); "
                            "each is measured and every measurement fused into one value with its spread, the "
                            "frames used and the outliers dropped (dense mesh; scale iris, card or ipd_mm)"},
}
ANALYZE_REQUEST = {
    **object_schema({"image_base64": IMAGE_BASE64,
                     "images_base64": {"type": "array", "items": IMAGE_BASE64, "minItems": 2,
                                       "maxItems": MAX_FUSED_IMAGES,
                                       "description": "with fuse: photos of one person, measured together"},
                     **ANALYZE_CALL_PARAMETERS, "webhook_url": ASYNC_WEBHOOK_URL}),
    "allOf": [  # image_base64, or images_base64 with fuse: true
        {"if": {"required": ["images_base64"]},
         "then": {"required": ["fuse"], "properties": {"fuse": {"const": True}, "image_base64": {"not": {}}}},
         "else": {"required": ["image_base64"]}},
        {"if": {"properties": {"fuse": {"const": True}}, "required": ["fuse"]},
         "then": {"required": ["images_base64"]}},
    ],
}
# A single photo call may hide people by reference (a batch may not: it has no reference photo).
PRIVACY_CALL_PARAMETERS = {
    **PRIVACY_PARAMETERS,
    "people": {"type": "string", "enum": list(PEOPLE), "default": "everyone",
               "description": "who is hidden: everyone, everyone_except the person of reference_base64 (kept "
                              "visible, e.g. who consented), or only that person; not with create_levels"},
    "identity_model": IDENTITY_MODEL,
}
PRIVACY_REQUEST = {
    **object_schema({"image_base64": IMAGE_BASE64, **PRIVACY_CALL_PARAMETERS,
                     "reference_base64": {**IMAGE_BASE64, "description": "a photo of the person `people` names "
                                                                         "(its largest face): needed unless people "
                                                                         "is everyone"},
                     "webhook_url": ASYNC_WEBHOOK_URL},
                    ("image_base64",)),
    "if": {"properties": {"people": {"enum": ["everyone_except", "only"]}}, "required": ["people"]},
    "then": {"required": ["reference_base64"]},
    "dependentSchemas": {"reference_base64": {"properties": {"people": {"enum": ["everyone_except", "only"]}},
                                              "required": ["people"]}},
}
SWAP_REQUEST = object_schema(
    {"source_image_base64": IMAGE_BASE64, "target_image_base64": IMAGE_BASE64, **SWAP_PARAMETERS,
     "webhook_url": ASYNC_WEBHOOK_URL},
    ("source_image_base64", "target_image_base64"),
)
COMPARE_REQUEST = object_schema(
    {"image_base64": IMAGE_BASE64, "reference_base64": IMAGE_BASE64, **COMPARE_PARAMETERS,
     "webhook_url": ASYNC_WEBHOOK_URL},
    ("image_base64", "reference_base64"),
)
BATCH_OPERATIONS = {"analyze": ANALYZE_PARAMETERS, "privacy": PRIVACY_PARAMETERS, "detect": DETECT_PARAMETERS}


def batch_request(max_images: int) -> dict[str, Any]:
    return object_schema(
        {
            "images_base64": {"type": "array", "items": IMAGE_BASE64, "minItems": 1, "maxItems": max_images},
            "operation": {"type": "string", "enum": sorted(BATCH_OPERATIONS)},
            "parameters": {"type": "object", "default": {},
                           "description": "the operation's parameters, as for its single-image endpoint"},
            "webhook_url": WEBHOOK_URL,
        },
        ("images_base64", "operation"),
    )


WORKFLOW_RUN_REQUEST = object_schema(
    {
        "images": {"type": "object", "additionalProperties": IMAGE_BASE64, "default": {},
                   "description": "LoadImage node id or title -> base64 image"},
        "inputs": {"type": "object", "default": {},
                   "additionalProperties": {"type": ["number", "string", "boolean"]},
                   "description": "'<node id or title>.<input>' -> value, e.g. {\"privacy.strength\": 0.8}"},
        "async": {"type": "boolean", "default": False,
                  "description": "answer 202 with a job id at once instead of waiting for the result (as "
                                 "`Prefer: respond-async` does)"},
        "webhook_url": {**WEBHOOK_URL, "description": "with async or `Prefer: respond-async` only: "
                                                      + WEBHOOK_URL["description"]},
    }
)

VIDEO_ENCODING = {
    "crf": {"type": "integer", "minimum": 0, "maximum": 51, "default": 20,
            "description": "H.264 quality: lower is better and larger (18-23 is visually lossless to good)"},
    "detect_every": {"type": "integer", "minimum": 1, "maximum": 30, "default": 1,
                     "description": "run the face detector on every n-th frame and track in between (faster)"},
    "keep_lost_frames": {"type": "integer", "minimum": 0, "maximum": 120, "default": 10,
                         "description": "keep masking a face the detector lost for this many frames"},
}
VIDEO_ANONYMIZE_OPTIONS = object_schema({
    "mask_type": {**PRIVACY_PARAMETERS["mask_type"], "enum": [name for name in MASK_TYPES if name != "synthetic"],
                  "description": "how faces are hidden"},
    "strength": PRIVACY_PARAMETERS["strength"],
    "coverage": {"type": "string", "enum": list(COVERAGES), "default": "face_margin",
                 "description": "the face, the face plus a margin, or the whole head"},
    "margin": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 0.2,
               "description": "face_margin and head: growth as a fraction of the face size"},
    "feather": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 0.1,
                "description": "soft edge width, as a fraction of the face size"},
    "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0,
             "description": "noise pattern"},
    # maxLength: JSON Schema's pattern is searched, and Python's "$" also matches before a final newline
    "color": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$", "maxLength": 7, "default": "#000000",
              "description": "solid fill colour"},
    "audit": {"type": "boolean", "default": False,
              "description": "detect again on every masked frame; the report counts, per track, the frames where "
                             "the face was still found (slower)"},
    "auto_strengthen": {"type": "boolean", "default": False,
                        "description": "mask faces the audit still finds harder, and mask faces only the audit "
                                       "found, until none is (implies audit)"},
    "threshold": {"type": "number", "exclusiveMinimum": 0.0, "exclusiveMaximum": 1.0,
                  "default": PRIVACY_DETECTION.threshold,
                  "description": "detector confidence; low finds more faces (the default is recall first)"},
    "overview_sides": {"type": "array", "items": {"type": "integer", "minimum": 64, "maximum": 4096},
                       "maxItems": 4, "default": list(PRIVACY_DETECTION.overview_sides),
                       "description": "besides the full-resolution pass, bigger frames are also detected scaled "
                                      "down to each of these sides; empty: no overview"},
    "thorough": {**PRIVACY_PARAMETERS["thorough"],
                 "description": "a second look for faces: rotated passes and contrast normalisation of dark frames"},
    "int8": {"type": "boolean", "default": False,
             "description": "on the CPU, the int8 CenterFace proposes and the fp32 one confirms what it is unsure "
                            "of: faster where the CPU has VNNI or dot-product instructions; the fp32 model's faces "
                            "in each pass, but its closer look at small faces can differ (default: the fp32 model "
                            "alone)"},
    "people": {"type": "string", "enum": list(PEOPLE), "default": "everyone",
               "description": "who is hidden: everyone, everyone_except the person of the form part reference "
                              "(e.g. who consented), or only that person"},
    "identity_model": IDENTITY_MODEL,
    **VIDEO_ENCODING,
    "webhook_url": WEBHOOK_URL,
})
SWAP_BLENDING = {  # the Face Swap node's method and blending inputs, with its defaults
    "method": {"type": "string", "enum": list(METHODS), "default": "auto",
               "description": "inswapper (needs inswapper_128 and buffalo_l), the model-free landmark warp "
                              "(classical), or auto: InSwapper when it can run, else the warp"},
    "color_correction": {"type": "string", "enum": list(COLOR_MODES), "default": "lab",
                         "description": "colour of the swapped face matched to the target's: LAB mean and spread, "
                                        "histogram matching, or none"},
    "blend_mode": {"type": "string", "enum": list(BLEND_MODES), "default": "feather",
                   "description": "feathered edge, or Poisson blending"},
    "feather": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 0.06,
                "description": "edge softness, as a fraction of the face size"},
    "occlusion": {"type": "boolean", "default": True,
                  "description": "keep hands, hair and objects in front of the target face"},
    "mouth": {"type": "boolean", "default": True, "description": "keep the target's mouth interior"},
    "sharpen": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 0.3,
                "description": "sharpening of the swapped face"},
    "denoise": {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 0.0,
                "description": "noise reduction of the swapped face"},
    **SWAP_MODEL_OPTIONS,
    **SWAP_RESTORE_OPTIONS,
}
VIDEO_SWAP_OPTIONS = object_schema({
    "source_face_index": FACE_INDEX,
    "target_tracks": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 4095},
                      "maxItems": 64, "uniqueItems": True, "default": [],
                      "description": "which tracked faces of the video to replace, numbered in order of "
                                     "appearance from 0 (see the report of an anonymisation); empty: every face; "
                                     "with the form part reference, the tracks of that person instead"},
    "identity_model": IDENTITY_MODEL,
    **SWAP_BLENDING,
    **VIDEO_ENCODING,
    "webhook_url": WEBHOOK_URL,
})


MAX_VIDEO_FRAMES = 64  # measurement_fusion.MAX_FRAMES (tests/test_video_analyze_http.py checks they agree)
VIDEO_ANALYZE_OPTIONS = object_schema({
    "frames": {"type": "integer", "minimum": 1, "maximum": MAX_VIDEO_FRAMES, "default": 16,
               "description": "frames sampled evenly over the whole video; each whose largest face has dense "
                              "landmarks is measured, and the measurements are fused (more frames, less landmark "
                              "noise; the scale's own uncertainty does not average out)"},
    "scale": {
        "default": "iris",
        "description": "what turns pixels into mm in every frame: iris, card (an ID-1 bank card held flat beside "
                       "the face; a frame where it is not found falls back to the iris and is left out), or the "
                       "person's known interpupillary distance (a segment or mm_per_px describes one photo: "
                       "not here)",
        "oneOf": [{"type": "string", "enum": ["iris", "card"]}, ANALYZE_PARAMETERS["scale"]["oneOf"][1]],
    },
    "identity_model": {**IDENTITY_MODEL,
                       "description": "the model that checks every frame shows one person: auto = ArcFace when "
                                      "buffalo_l is installed, else dlib's descriptor, else the face's shape "
                                      "(fusion.identity says which); arcface or dlib that cannot be had fails the "
                                      "job (model_missing / dependency_missing)"},
    "include_sheet": ANALYZE_PARAMETERS["include_sheet"],
    "include_measurements": ANALYZE_PARAMETERS["include_measurements"],
    "include_landmarks": ANALYZE_PARAMETERS["include_landmarks"],
    "include_3d_mesh": ANALYZE_PARAMETERS["include_3d_mesh"],
    "mesh_format": ANALYZE_PARAMETERS["mesh_format"],
    "webhook_url": WEBHOOK_URL,
})


KEY_CREATE_REQUEST = object_schema(
    {
        "tier": {"type": "string", "enum": list(TIERS), "default": "basic"},
        "name": {"type": "string", "maxLength": 200, "default": "", "description": "a label for people"},
        "scopes": {"type": ["array", "string"], "items": {"type": "string", "enum": list(SCOPES)}, "maxLength": 500,
                   "description": "a list, or a comma-separated string; default: every scope but admin"},
        "expires": {"type": ["string", "null"], "maxLength": 64, "default": None,
                    "description": "a duration (30d, 12h, 90m, 2w) or an ISO date; none: never"},
    }
)


def validate(schema: dict[str, Any], body: Any, where: str = "body") -> dict[str, Any]:
    """Check ``body`` against ``schema``; return it with defaults filled in, or raise ApiError 400.

    The message names the field and what was expected; it quotes the sent value only as a short excerpt.
    """
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=lambda error: len(error.absolute_path))
    if errors:
        error = errors[0]
        location = ".".join([where, *(excerpt(part) for part in error.absolute_path)])
        raise ApiError(400, "invalid_request", f"{location}: {_describe(error)}")
    return {**_defaults(schema), **body}


def _describe(error) -> str:
    check, expected, instance = error.validator, error.validator_value, error.instance
    if check == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {wanted}, got {_json_type(instance)}"
    if check == "additionalProperties":
        unexpected = sorted(set(instance) - set(error.schema.get("properties", {})))
        named = ", ".join(excerpt(name) for name in unexpected[:3]) + (", ..." if len(unexpected) > 3 else "")
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"unexpected field(s) {named}; allowed fields: {allowed}"
    if check == "required":
        missing = [name for name in expected if name not in instance]
        return f"missing required field(s): {', '.join(missing)}"
    if check == "enum":
        return f"{excerpt(instance)} is not one of: {', '.join(map(str, expected))}"
    if check == "const":
        return f"must be {json.dumps(expected)} here"
    if check == "not":
        return "is not allowed with the other fields sent"
    bounds = {"minimum": "must be at least", "maximum": "must be at most", "exclusiveMinimum": "must be more than",
              "exclusiveMaximum": "must be less than", "minLength": "needs at least", "maxLength": "takes at most",
              "minItems": "needs at least", "maxItems": "takes at most"}
    if check in bounds:
        unit = {"minLength": " characters", "maxLength": " characters", "minItems": " items",
                "maxItems": " items"}.get(check, "")
        return f"{bounds[check]} {expected}{unit}"
    return f"the {check} check failed"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    names = {dict: "object", list: "array", str: "string", int: "integer", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _defaults(schema: dict[str, Any]) -> dict[str, Any]:
    return {name: spec["default"] for name, spec in schema.get("properties", {}).items() if "default" in spec}


def parse_json(body: bytes) -> Any:
    """Request bytes -> JSON value, or ApiError 400 (not JSON, NaN or Infinity, nested too deeply).

    The messages say where and what in our words; Python's parser texts ("Expecting value") are not quoted.
    """
    if not body:
        raise ApiError(400, "invalid_request", "the request needs a JSON body")
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise ApiError(400, "invalid_json",
                       f"the body is not valid JSON (line {error.lineno} column {error.colno})") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", f"the body is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except UnicodeDecodeError as error:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: it is not UTF-8 text (byte {error.start})"
                       ) from None
    except _NotAJsonNumber as error:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {error.constant} is not a JSON number"
                       ) from None
    except ValueError:  # Python reads integers of at most sys.get_int_max_str_digits() digits
        raise ApiError(400, "invalid_json", f"the body holds a number of more than {sys.get_int_max_str_digits()} "
                       "digits") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid_json", f"the body is nested more than {MAX_JSON_DEPTH} levels deep")
    return value


class _NotAJsonNumber(ValueError):
    def __init__(self, constant: str):
        super().__init__(constant)
        self.constant = constant


def _refuse_constant(name: str) -> None:
    raise _NotAJsonNumber(name)


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        current, level = pending.pop()
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else None
        if children is not None:
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def decode_image(text: str, field: str) -> bytes:
    """base64 (optionally a data: URL) -> bytes, or ApiError 400 naming the field."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        data = binascii.a2b_base64(text.strip(), strict_mode=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", f"{field} is not valid base64") from None
    if not data:
        raise ApiError(400, "invalid_base64", f"{field} is empty")
    return data
