"""What docs/measurements.md's error budget claims: perturbed copies stay within the landmark noise, a
face turned beyond the validity limits is flagged, a tilt between the lower-face limit and the general
pitch limit flags only the philtrum and lower lip heights, and the tilt's share widens the uncertainty of
exactly the distances it changes.

The budget (tests/data/measurement_error_budget.json) is written by ``python bench/measurement_error.py
--budget ...``: each measurement's landmark noise on the evaluation set, and the margin a single copy
needs (the largest single-copy deviation on the tuning set, in units of that set's noise, rounded up).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from playalter.pipelines.engine.detection.api import detect_faces
from playalter.pipelines.engine.face_measurements import (DISTANCES, MAX_PITCH, MAX_PITCH_LOWER_FACE, MAX_YAW,
                                                          measure_face)

from conftest import read_rgb, requires_face_mesh
from face_turning import turn_face
from photo_copies import perturbed_copy

BUDGET = json.loads((Path(__file__).parent / "data" / "measurement_error_budget.json").read_text())
SEED = 24  # neither the bench's tuning (1) nor its evaluation (2) seed
TURN_BEYOND_DEG = 60.0  # applied; the landmark model reads a rendered turn as less than it is (docs)
TILT_BETWEEN_DEG = -15.0  # applied to AFLW2000_image02202 (estimated pitch +6): read as +18, between the limits


def _value(entry: dict) -> float:
    return entry["value_mm"] if "value_mm" in entry else entry["value"]


def _copies_stay_within_the_budget(image: np.ndarray) -> int:
    face = detect_faces(image)[0]
    original = measure_face(face)
    rng = np.random.default_rng(SEED)
    compared, failures = 0, []
    for _ in range(2):
        copy = perturbed_copy(image, rng)
        found = copy.same_face(face, detect_faces(copy.image))
        assert found is not None, "the face was not found again in its copy"
        scale = {"mm_per_px": original["scale"]["mm_per_px"] / copy.zoom}  # the copy's true scale
        measured = measure_face(found, scale)["measurements"]
        for key, entry in original["measurements"].items():
            other, noise = measured[copy.name(key)], BUDGET["landmark_noise"].get(key)
            if not (entry["valid"] and other["valid"] and noise):
                continue
            compared += 1
            change = _value(other) - _value(entry)
            deviation = abs(change) if noise["unit"] == "mm" else abs(change / _value(entry))
            if deviation > BUDGET["margin"] * noise["value"]:
                failures.append(f"{key}: {_value(entry):.2f} -> {_value(other):.2f} (noise {noise['value']})")
    assert not failures, failures
    return compared


@requires_face_mesh
def test_perturbed_copies_stay_within_the_landmark_noise_of_the_budget(astronaut_image):
    assert _copies_stay_within_the_budget(astronaut_image) >= 10


@requires_face_mesh
def test_perturbed_copies_of_a_fixture_photo_stay_within_the_budget(shared_fixtures):
    assert _copies_stay_within_the_budget(read_rgb(shared_fixtures / "faces" / "exp_8.jpg")) >= 20


@requires_face_mesh
def test_a_face_turned_beyond_the_limits_is_flagged(shared_fixtures):
    image = read_rgb(shared_fixtures / "faces" / "exp_8.jpg")
    face = detect_faces(image)[0]
    frontal = measure_face(face)
    assert abs(frontal["pose"]["yaw"]) < 10 and frontal["measurements"]["face_width"]["valid"]

    turned = measure_face(detect_faces(turn_face(image, face, TURN_BEYOND_DEG))[0])
    assert abs(turned["pose"]["yaw"]) > MAX_YAW
    for item in DISTANCES:
        if "yaw" in item.needs:
            entry = turned["measurements"][item.name]
            assert not entry["valid"] and "turned" in entry["reason"], item.name

    tilted = measure_face(detect_faces(turn_face(image, face, 0.0, 40.0))[0])
    assert abs(tilted["pose"]["pitch"]) > MAX_PITCH
    for item in DISTANCES:
        if "pitch" in item.needs:
            entry = tilted["measurements"][item.name]
            assert not entry["valid"] and "tilted" in entry["reason"], item.name


@requires_face_mesh
def test_a_tilt_between_the_lower_face_limit_and_the_pitch_limit_flags_only_the_lower_face(shared_fixtures):
    image = read_rgb(shared_fixtures / "faces" / "AFLW2000_image02202.jpg")
    face = detect_faces(image)[0]
    lower_face = {item.name for item in DISTANCES if "pitch_lower_face" in item.needs}
    assert lower_face == {"philtrum_length", "lower_lip_height"}
    frontal = measure_face(face)
    assert abs(frontal["pose"]["pitch"]) < MAX_PITCH_LOWER_FACE
    assert all(frontal["measurements"][name]["valid"] for name in lower_face)

    tilted = measure_face(detect_faces(turn_face(image, face, 0.0, TILT_BETWEEN_DEG))[0])
    assert MAX_PITCH_LOWER_FACE < abs(tilted["pose"]["pitch"]) < MAX_PITCH
    flagged = {name for name, entry in tilted["measurements"].items()
               if not entry["valid"] and "tilted" in entry["reason"]}
    assert flagged == lower_face
    assert all("lower-face heights" in tilted["measurements"][name]["reason"] for name in flagged)


@requires_face_mesh
def test_the_tilt_widens_the_uncertainty_of_the_distances_it_changes_by_their_share(shared_fixtures):
    face = detect_faces(read_rgb(shared_fixtures / "faces" / "exp_8.jpg"))[0]
    yaw, _, roll = face.pose
    level = measure_face(dataclasses.replace(face, pose=(yaw, 0.0, roll)))["measurements"]
    tilted = measure_face(dataclasses.replace(face, pose=(yaw, 20.0, roll)))["measurements"]
    widened = set()
    for item in DISTANCES:
        before, after = level[item.name], tilted[item.name]
        assert after["value_mm"] == before["value_mm"]
        share_mm = item.pitch_sd_per_deg * 20.0 * before["value_mm"]
        assert abs(after["uncertainty_mm"] - np.hypot(before["uncertainty_mm"], share_mm)) <= 0.02, item.name
        if after["uncertainty_mm"] > before["uncertainty_mm"] + 0.05:
            widened.add(item.name)
    assert widened == {item.name for item in DISTANCES if "pitch" in item.needs}
