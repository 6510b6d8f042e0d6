"""User input -> what a privacy run needs: the one builder the node, the CLI and the HTTP video job share.

Every entry point names its inputs alike (node inputs, CLI flag destinations, JSON fields), so one
mapping of those names gives the same options everywhere:

    mask_type, strength, coverage, margin, feather, ears, neck, seed, color   -> PrivacyOptions
    threshold, overview_sides, thorough, int8                                  -> PrivacyDetection
    audit, auto_strengthen                                                     -> the self-audit
    people, reference                                                          -> People (who is hidden)

``reference`` is a ``Reference`` (engine/reference.py) that the entry point builds from its own input
(a photo, an IMAGE, a saved identity): each reads pictures its own way.

A name left out takes its default (that of ``PrivacyOptions`` and ``PRIVACY_DETECTION``); names not
listed are not read, so a caller may pass all of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..core.errors import InvalidParameterError
from ..core.quoting import quoted
from .detection_settings import PRIVACY_DETECTION, PrivacyDetection
from .options import PrivacyOptions
from .people import People

OPTION_FIELDS = ("mask_type", "strength", "coverage", "margin", "feather", "ears", "neck", "seed", "color")
SWITCHES = ("ears", "neck", "thorough", "int8", "audit", "auto_strengthen")  # must be true or false


@dataclass(frozen=True)
class PrivacyRequest:
    """How faces are found (``detection``) and hidden (``options``), and whether the result is audited.

    run_audit:       detect again on the result and report; always true with ``auto_strengthen``
    auto_strengthen: mask faces the audit still finds harder, and mask faces only the audit found, until none is
    people:          who is hidden: everyone, everyone except the reference people, or only them
    """

    options: PrivacyOptions
    detection: PrivacyDetection
    run_audit: bool
    auto_strengthen: bool
    people: People = People()


def privacy_request(values: Mapping[str, Any]) -> PrivacyRequest:
    """The validated request of ``values`` (see the module docstring for the names); InvalidParameterError
    naming the input when one is wrong."""
    for name in SWITCHES:
        if name in values and not isinstance(values[name], bool):
            raise InvalidParameterError(f"{name} must be true or false, got {quoted(values[name])}")
    options = PrivacyOptions(**{name: values[name] for name in OPTION_FIELDS if name in values})
    detection = PrivacyDetection(
        threshold=values.get("threshold", PRIVACY_DETECTION.threshold),
        overview_sides=tuple(values.get("overview_sides", PRIVACY_DETECTION.overview_sides)),
        thorough=values.get("thorough", PRIVACY_DETECTION.thorough),
        int8=values.get("int8", PRIVACY_DETECTION.int8),
    )
    auto_strengthen = values.get("auto_strengthen", False)
    people = People(values.get("people", "everyone"), values.get("reference"))
    return PrivacyRequest(options, detection, values.get("audit", False) or auto_strengthen, auto_strengthen, people)
