"""The seed endpoints as saved workflows: which workflow runs and what is bound to it.

Every endpoint ends in the same place: a saved workflow run by the executor
with per-run bindings (images by LoadImage title, widget values as
``"<node title>.<input>"``). An ``Operation`` turns a request's parameters into
a ``Plan``; adding an endpoint of this kind is adding an entry here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from ....pipelines import models
from .. import schemas
from ..errors import ApiError
from .fused_analysis import FUSED_ANALYSIS, VIDEO_ANALYZE


REPORT_TITLE = "analysis"  # the Save JSON node of the analysis workflows that holds the face report
PRIVACY_REPORT_TITLES = ("report", "levels metadata")  # the privacy workflows' Save JSON nodes
SWAP_REPORT_TITLE = "swap report"
COMPARE_TITLE = "similarity"  # the face_compare workflow's Save JSON node


@dataclass(frozen=True)
class Plan:
    workflow: str  # name in the workflow catalogue
    bindings: dict[str, Any] = field(default_factory=dict)  # widget bindings shared by every item
    hide_titles: tuple[str, ...] = ()  # output nodes left out of the response

    def to_dict(self) -> dict[str, Any]:
        return {"bindings": self.bindings, "hide_titles": list(self.hide_titles)}


@dataclass(frozen=True)
class Operation:
    name: str
    scope: str  # the API-key scope a caller needs
    switch: str  # the settings flag that turns the capability on or off
    image_fields: dict[str, str]  # request field -> LoadImage title it binds (when the request has it)
    parameters: dict[str, Any]  # JSON Schema properties of the parameters
    plan: Callable[[dict[str, Any]], Plan]
    workflows: tuple[str, ...]  # every workflow ``plan`` may choose
    answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # reshapes a single-call answer
    image_list: str | None = None  # request field of a list of images, bound as "image 0", "image 1", ...


def _analyze(parameters: dict[str, Any]) -> Plan:
    """FLAME fit + measurements when FLAME is asked for (or installed, with "auto"), else the dense mesh;
    several photos of one person with fuse (a batch has no fuse: its images are unrelated)."""
    if parameters.get("fuse"):
        return _analyze_fused(parameters)
    bindings: dict[str, Any] = {
        "report.include_measurements": parameters["include_measurements"],
        "report.include_landmarks": parameters["include_landmarks"],
        "report.mesh_format": parameters["mesh_format"] if parameters["include_3d_mesh"] else "none",
    }
    model, scale, sheet = parameters["measurement_model"], parameters["scale"], parameters["include_sheet"]
    dense_only = scale != "iris" or sheet  # the scale references and the sheet work on the dense mesh
    if model == "flame" and dense_only:
        raise ApiError(400, "invalid_request", "scale and include_sheet work on the dense-mesh measurements: "
                                               "use measurement_model dense_mesh or auto with them")
    if model == "flame" or (model == "auto" and models.is_available("flame") and not dense_only):
        bindings["flame fit.include_mesh_in_json"] = parameters["include_3d_mesh"]
        return Plan("face_analysis", bindings, ("measurements json",))
    bindings["measurements.scale"] = json.dumps(scale) if isinstance(scale, dict) else scale
    return Plan("face_analysis_dense", bindings, () if sheet else ("sheet",))


def _analyze_fused(parameters: dict[str, Any]) -> Plan:
    """The direct run ``face_analysis_fused`` (``fused_analysis.py``): dense mesh only."""
    if parameters["measurement_model"] == "flame":
        raise ApiError(400, "invalid_request", "fuse works on the dense-mesh measurements: use measurement_model "
                                               "dense_mesh or auto with it")
    names = ("scale", "include_sheet", "include_measurements", "include_landmarks", "include_3d_mesh", "mesh_format")
    return Plan(FUSED_ANALYSIS, {name: parameters[name] for name in names})


def lift_faces(result: dict[str, Any]) -> dict[str, Any]:
    """The analysis report's face records moved to the answer's top level as ``faces``; a scale reference
    that could not be used (``measurements.scale.warning``, or ``warnings`` of fused photos) is also a
    top-level ``warnings`` entry."""
    reports = [entry for entry in result["json"] if entry["title"] == REPORT_TITLE]
    faces = [face for entry in reports for face in entry["data"]["faces"]]
    answer = {**result, "faces": faces, "json": [entry for entry in result["json"] if entry["title"] != REPORT_TITLE]}
    scales = [(face, face.get("measurements", {}).get("scale", {})) for face in faces]
    warnings = [f"image {face['image']}, face {face['index']}: {scale['warning']}"
                for face, scale in scales if scale.get("warning")]
    warnings += [warning for _, scale in scales for warning in scale.get("warnings", ())]  # fused photos
    if warnings:
        answer["warnings"] = warnings
    return answer


PRIVACY_LEVELS_DEFAULT = 4


def _privacy(parameters: dict[str, Any]) -> Plan:
    levels = parameters["create_levels"]
    levels = PRIVACY_LEVELS_DEFAULT if levels is True else int(levels)
    bindings: dict[str, Any] = {"privacy.mask_type": parameters["mask_type"], "privacy.strength": parameters["strength"],
                                "detect.thorough": parameters["thorough"]}
    people = parameters.get("people", "everyone")  # a batch has no people: it has no reference photo
    if levels and people != "everyone":
        raise ApiError(400, "invalid_request", "create_levels cannot be combined with people: ask for the levels "
                                               "of everyone, or for one strength for the chosen people")
    if levels:
        bindings["privacy.levels"] = levels
        bindings["privacy.audit"] = parameters["include_audit"]
        return Plan("privacy_pixelate_levels", bindings)
    if people != "everyone":
        audit = parameters["include_audit"]  # as privacy_audit: the audit raises the strength where it must
        bindings["detect image.thorough"] = bindings.pop("detect.thorough")  # named after its image: two LoadImages
        return Plan("privacy_people", {**bindings, "privacy.people": people, "privacy.audit": audit,
                                       "privacy.auto_strengthen": audit,
                                       "privacy.identity_model": parameters["identity_model"]})
    return Plan("privacy_audit" if parameters["include_audit"] else "privacy_blur", bindings)


def _json_data(result: dict[str, Any], titles: tuple[str, ...]) -> list[Any]:
    return [entry["data"] for entry in result["json"] if entry["title"] in titles and isinstance(entry["data"], dict)]


def _still_visible(audit: dict[str, Any] | None) -> tuple[int, int]:
    """Faces an audit still finds (masked faces re-detected plus faces only the audit found), and masked
    faces it still recognises."""
    audit = audit or {}
    return audit.get("still_detected", 0) + len(audit.get("missed") or []), audit.get("still_recognisable", 0)


def privacy_answer(result: dict[str, Any]) -> dict[str, Any]:
    """``faces_hidden`` and ``warnings`` at the top level: no face found, or faces the audit still detects
    or recognises."""
    hidden, still_detected, still_recognisable = 0, 0, 0
    audits = []
    for data in _json_data(result, PRIVACY_REPORT_TITLES):
        for image in data.get("images", []):
            hidden += len(image.get("faces") or [])
            audits.append(image.get("audit"))
        levels = data.get("levels") or []
        if levels:
            hidden += levels[-1].get("faces", 0)
            audits.append(levels[-1].get("audit"))
    for audit in audits:
        detected, recognisable = _still_visible(audit)
        still_detected, still_recognisable = still_detected + detected, still_recognisable + recognisable
    warnings = []
    if hidden == 0:
        warnings.append("no face was detected, so the image is returned unchanged; try a larger or sharper photo")
    if still_detected:
        warnings.append(f"{still_detected} face(s) are still detected after masking; raise the strength or "
                        "set include_audit to strengthen until none is")
    if still_recognisable:
        warnings.append(f"{still_recognisable} face(s) are still recognisable after masking; raise the strength "
                        "or set include_audit to strengthen until none is")
    return {**result, "faces_hidden": hidden, "warnings": warnings}


def swap_answer(result: dict[str, Any]) -> dict[str, Any]:
    """The swap ``method`` at the top level, with a warning when it fell back to the model-free warp."""
    images = [image for data in _json_data(result, (SWAP_REPORT_TITLE,)) for image in data.get("images", [])]
    methods = sorted({image["method"] for image in images if "method" in image})
    warnings = [f"fell back to the model-free method: {image['reason']}" for image in images
                if image.get("method") == "classical" and image.get("reason") != "requested"]
    return {**result, "method": methods[0] if len(methods) == 1 else methods, "warnings": sorted(set(warnings))}


def _swap(parameters: dict[str, Any]) -> Plan:
    return Plan("face_swap", {"swap.source_indices": str(parameters["source_face_index"]),
                              "swap.target_indices": str(parameters["target_face_index"]),
                              **{f"swap.{name}": parameters[name]
                                 for name in (*schemas.SWAP_MODEL_OPTIONS, *schemas.SWAP_RESTORE_OPTIONS)}})


def _compare(parameters: dict[str, Any]) -> Plan:
    return Plan("face_compare", {"compare.face_index": parameters["face_index"],
                                 "compare.reference_face_index": parameters["reference_face_index"],
                                 "compare.identity_model": parameters["identity_model"]})


def compare_answer(result: dict[str, Any]) -> dict[str, Any]:
    """The comparison (distance, same_person, threshold, metric, model) at the answer's top level."""
    [comparison] = _json_data(result, (COMPARE_TITLE,))
    return {**result, **comparison}


OPERATIONS: dict[str, Operation] = {
    "analyze": Operation("analyze", "face:analyze", "enable_face_detection", {"image_base64": "image"},
                         schemas.ANALYZE_CALL_PARAMETERS, _analyze, ("face_analysis", "face_analysis_dense"),
                         lift_faces, image_list="images_base64"),
    "privacy": Operation("privacy", "privacy:mask", "enable_privacy",
                         {"image_base64": "image", "reference_base64": "reference"},
                         schemas.PRIVACY_CALL_PARAMETERS, _privacy,
                         ("privacy_blur", "privacy_audit", "privacy_pixelate_levels", "privacy_people"),
                         privacy_answer),
    "swap": Operation("swap", "face:swap", "enable_face_swap",
                      {"source_image_base64": "source", "target_image_base64": "target"},
                      schemas.SWAP_PARAMETERS, _swap, ("face_swap",), swap_answer),
    "compare": Operation("compare", "face:analyze", "enable_face_detection",
                         {"image_base64": "image", "reference_base64": "reference"},
                         schemas.COMPARE_PARAMETERS, _compare, ("face_compare",), compare_answer),
    "detect": Operation("detect", "face:analyze", "enable_face_detection", {"image_base64": "image"},
                        schemas.DETECT_PARAMETERS, lambda parameters: Plan("detect_faces"), ("detect_faces",)),
}


def job_answer(operation: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """How a completed job item's result is shown: as the operation's single-call answer; a video measured
    and fused (``video.analyze``) as a fused analysis of photos, its face record lifted to ``faces``."""
    if operation == VIDEO_ANALYZE:
        return lift_faces
    found = OPERATIONS.get(operation)
    return found.answer if found is not None and found.answer is not None else (lambda result: result)
