"""JSON Schemas of the service's answers, for the OpenAPI document's ``components``.

Request bodies are in ``schemas.py`` (the server validates with them); these
describe what comes back. ``ref(name)`` points at one of ``COMPONENTS``.
"""

from __future__ import annotations

from typing import Any

from .schemas import FACE_RECORD


def ref(name: str) -> dict[str, str]:
    """A JSON Schema reference to ``COMPONENTS[name]``."""
    return {"$ref": f"#/components/schemas/{name}"}


ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "description": "stable, machine-readable"},
        "message": {"type": "string", "description": "what went wrong and what to do, for people"},
        "details": {"description": "more context when there is some (node errors of a workflow, job id)"},
    }}},
}
IMAGE_OUTPUT = {"type": "object", "properties": {
    "node": {"type": "string"}, "title": {"type": "string"}, "filename": {"type": "string"},
    "content_type": {"type": "string"}, "base64": {"type": "string"},
}}
JSON_OUTPUT = {"type": "object", "properties": {
    "node": {"type": "string"}, "title": {"type": "string"}, "data": {"description": "the parsed JSON output"},
}}
RUN_RESULT = {
    "type": "object",
    "description": "the outputs of the saved workflow that ran",
    "properties": {
        "job_id": {"type": "string"},
        "workflow": {"type": "string"},
        "seconds": {"type": "number"},
        "images": {"type": "array", "items": ref("ImageOutput")},
        "json": {"type": "array", "items": ref("JsonOutput")},
    },
}
WARNINGS = {"type": "array", "items": {"type": "string"},
            "description": "what the caller should know although the request succeeded; empty when nothing"}
PRIVACY_RESULT = {
    "type": "object",
    "description": "the outputs of the privacy workflow, with how many faces were hidden",
    "properties": {**RUN_RESULT["properties"],
                   "faces_hidden": {"type": "integer", "description": "faces detected and masked; 0 means the "
                                                                      "image came back unchanged (see warnings)"},
                   "warnings": WARNINGS},
}
SWAP_RESULT = {
    "type": "object",
    "description": "the outputs of the swap workflow, with the method used",
    "properties": {**RUN_RESULT["properties"],
                   "method": {"type": "string", "enum": ["inswapper", "classical"]},
                   "warnings": {**WARNINGS, "description": "e.g. a fall back to the model-free method"}},
}
COMPARE_RESULT = {
    "type": "object",
    "description": "the outputs of the face_compare workflow, with its answer at the top level",
    "properties": {**RUN_RESULT["properties"],
                   "distance": {"type": "number", "description": "between the two faces, in the model's metric"},
                   "same_person": {"type": "boolean", "description": "distance below threshold"},
                   "threshold": {"type": "number", "description": "the model's same-person distance"},
                   "metric": {"type": "string", "enum": ["cosine", "euclidean"]},
                   "model": {"type": "object", "description": "the identity model that judged, and its licence",
                             "properties": {"name": {"type": "string"}, "licence": {"type": "string"}},
                             "required": ["name", "licence"]}},
    "required": ["distance", "same_person", "threshold", "model"],
}
KEY = {"type": "object", "properties": {
    "key_id": {"type": "string"}, "name": {"type": "string"}, "tier": {"type": "string"},
    "scopes": {"type": "array", "items": {"type": "string"}}, "created_at": {"type": "number"},
    "expires_at": {"type": ["number", "null"]}, "revoked_at": {"type": ["number", "null"]},
    "status": {"type": "string"},
}}
ANALYZE_RESULT = {
    "type": "object",
    "description": "the outputs of the analysis workflow, with its face report as `faces`",
    "properties": {**RUN_RESULT["properties"],
                   "faces": {"type": "array", "items": ref("FaceRecord")},
                   "warnings": {**WARNINGS, "description": "e.g. a scale card that was not found or too "
                                                           "slanted (the iris scaled that face instead)"}},
}
JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "operation": {"type": "string"},
        "workflow": {"type": "string"},
        "state": {"type": "string", "enum": ["queued", "running", "completed", "failed", "cancelled"]},
        "created_at": {"type": "number"}, "finished_at": {"type": ["number", "null"]},
        "expires_at": {"type": ["number", "null"], "description": "results are deleted after this time"},
        "progress": {"type": "object", "description": "item counts: total, queued, running, completed, ..."},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "index": {"type": "integer"}, "state": {"type": "string"},
            "error": {"type": "object"}, "seconds": {"type": "number"},
            "result": {"type": "object", "description": "images and JSON outputs, once completed; for a video "
                       "job also `video` (filename, content_type, bytes); for an analysis (photos or a video "
                       "fused) `faces`, as in AnalyzeResult"},
        }}},
        "error": {"type": "object"},
        "webhook_url": {"type": "string", "description": "where the job's end is announced, when it was given"},
        "webhooks": {"type": "array", "description": "only in GET /api/jobs/{id} of a job with a webhook_url: the "
                     "deliveries of its events", "items": ref("WebhookDelivery")},
    },
}
WEBHOOK_DELIVERY = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "the webhook-id header, the same on every attempt"},
        "event": {"type": "string", "enum": ["job.completed", "job.failed", "job.cancelled"]},
        "url": {"type": "string"},
        "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "next_attempt_at": {"type": ["number", "null"], "description": "epoch seconds of the next try, if any"},
        "attempts": {"type": "array", "items": {"type": "object", "properties": {
            "number": {"type": "integer"}, "at": {"type": "number"},
            "status": {"type": ["integer", "null"], "description": "the receiver's HTTP status; null: no answer"},
            "error": {"type": ["string", "null"], "description": "why the attempt failed"},
            "response": {"type": ["string", "null"], "description": "the answer's first kB"},
            "duration_ms": {"type": "number"}}}},
    },
}
TOKEN = {"type": "object", "properties": {
    "token": {"type": "string"}, "token_type": {"type": "string"},
    "expires_at": {"type": "number"}, "expires_in": {"type": "integer"},
}}
KEY_LIST = {"type": "object", "properties": {"keys": {"type": "array", "items": ref("Key")}}}
NEW_KEY = {"allOf": [ref("Key"), {"type": "object", "properties": {"api_key": {"type": "string"}}}]}
_NAME_TO_VERSION = {"type": "object", "additionalProperties": {"type": "string"}}
_FOLDER = {"type": "object", "properties": {"path": {"type": "string"}, "exists": {"type": "boolean"}}}
INSTALLATION = {
    "type": "object",
    "description": "the facts `playalter doctor` prints",
    "properties": {
        "playalter": {"type": "string"},
        "packages": {"type": "object", "properties": {
            "python": {"type": "object", "properties": {"version": {"type": "string"},
                                                        "executable": {"type": "string"}}},
            "torch": {"type": ["string", "null"]},
            "numpy": {"type": ["string", "null"]},
            "opencv": {**_NAME_TO_VERSION, "description": "installed distributions providing cv2"},
            "onnxruntime": {**_NAME_TO_VERSION, "description": "installed onnxruntime builds; more than one "
                                                               "is a problem"},
        }},
        "onnxruntime_problem": {
            "type": ["object", "null"],
            "description": "two onnxruntime builds together, or a CPU-only one beside an NVIDIA GPU",
            "properties": {"message": {"type": "string"}, "fix": {"type": "string", "description": "the command"}},
        },
        "execution": {"type": "object", "properties": {"path": {"type": ["string", "null"]},
                                                       "reason": {"type": "string"}}},
        "models": {"type": "object", "properties": {
            "present": {"type": "array", "items": {"type": "string"}},
            "missing": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "how_to_obtain": {"type": "string"}}}},
            "search_dirs": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        }},
        "comfyui": {"type": "object", "description": "the ComfyUI install around the pack (root null: none)",
                    "properties": {"root": {"type": ["string", "null"]}, "pack": {"type": "string"},
                                   "models": _FOLDER, "input": _FOLDER, "output": _FOLDER}},
        "extras": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "installed": {"type": "boolean"}, "missing": {"type": "array", "items": {"type": "string"}}}}},
    },
}

COMPONENTS: dict[str, Any] = {
    "Error": ERROR, "RunResult": RUN_RESULT, "AnalyzeResult": ANALYZE_RESULT, "PrivacyResult": PRIVACY_RESULT,
    "SwapResult": SWAP_RESULT, "CompareResult": COMPARE_RESULT,
    "Key": KEY, "FaceRecord": FACE_RECORD, "ImageOutput": IMAGE_OUTPUT,
    "JsonOutput": JSON_OUTPUT, "Job": JOB, "WebhookDelivery": WEBHOOK_DELIVERY, "Installation": INSTALLATION,
}
