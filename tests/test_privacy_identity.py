"""The privacy audit's "still recognisable?": on real photos, lightly blurred faces are, faces hidden at
strength 1.0 are not (on a sample of the evaluation set, every mask type); auto-strengthen goes on until none
is; the HTTP answer carries it and names the model (the node's output: test_privacy_nodes.py); without a
model the audit says why."""

from __future__ import annotations

import asyncio

import pytest

import identity_pair_sets as pairs
from playalter.pipelines import models
from playalter.pipelines.engine import dlib_descriptor, embedding
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.privacy import PrivacyOptions, anonymize, audit, protect
from playalter.pipelines.privacy.choices import MASK_TYPES
from playalter.pipelines.privacy.self_audit import AuditSettings, reidentify

from server_app_helpers import b64, bearer, make_settings, running_app

requires_identity = pytest.mark.skipif(
    not (dlib_descriptor.is_installed() and models.is_available(dlib_descriptor.MODEL)),
    reason="dlib or the identity model is absent (pip install dlib-bin; playalter models fetch identity)")
DLIB = AuditSettings(identity_model="dlib", second_detector=False)  # BlazeFace: not what these tests are about
# every type but synthetic, which needs InSwapper: its far-away identity is checked where the model is installed
HIDING_TYPES = [name if name != "synthetic" else pytest.param(name, marks=pytest.mark.skipif(
    not models.is_available("inswapper_128"), reason="inswapper_128.onnx is absent")) for name in MASK_TYPES]


@pytest.fixture(scope="module")
def t1_faces_large(t1_image):
    return detect_faces(t1_image, backend="centerface", threshold=0.5, analyse=False, dense=False)


@pytest.fixture(scope="module")
def evaluation_sample() -> list[pairs.SourceFace]:
    """Every fourth face of the evaluation set (people no choice looked at), at least Tom Hanks and the cameraman."""
    faces = pairs.source_faces("evaluation")
    return faces[::4] if len(faces) > 4 else faces


@requires_identity
def test_lightly_blurred_faces_are_recognisable(t1_image, t1_faces_large, astronaut_image):
    for image, faces in ((t1_image, t1_faces_large), (astronaut_image, pairs.find(astronaut_image, pairs.MIN_SIDE))):
        report = protect(image, faces, PrivacyOptions("blur", strength=0.0), run_audit=True,
                         audit_settings=DLIB).report["audit"]
        assert report["identity"]["model"]["name"] == "dlib_resnet_v1"
        assert [entry["recognisable"] for entry in report["faces"]] == [True] * len(faces)
        assert report["still_recognisable"] == len(faces) and not report["all_hidden"]


@requires_identity
@pytest.mark.parametrize("mask_type", HIDING_TYPES)
def test_no_evaluation_face_is_recognisable_at_strength_one(evaluation_sample, mask_type):
    judged = 0
    for source in evaluation_sample:
        hidden = anonymize(source.photo, [source.face], PrivacyOptions(mask_type, strength=1.0)).image
        [entry] = reidentify(source.photo, [source.face], hidden, embedding.DLIB)
        assert entry["recognisable"] is not True, (source.identity, entry)
        judged += entry["recognisable"] is False
    assert judged >= len(evaluation_sample) - 1  # the model reads (nearly) all of them: the test can fail


@requires_identity
def test_an_untouched_face_ranks_first_and_a_gallery_counts(t1_image, t1_faces_large):
    space = embedding.DLIB
    gallery = (embedding.embed(t1_image, t1_faces_large[0], space),)  # the first person again, as a stranger
    entries = reidentify(t1_image, t1_faces_large, t1_image, space, gallery)
    assert [entry["identity_rank"] for entry in entries][1:] == [1] * (len(entries) - 1)
    assert all(entry["identity_distance"] == pytest.approx(0.0, abs=1e-4) for entry in entries)
    report = audit(t1_image, t1_faces_large, t1_image, AuditSettings(identity_model="dlib", second_detector=False,
                                                                     gallery=gallery))
    assert report["identity"]["gallery"] == len(t1_faces_large)  # the 5 others + 1 given


@requires_identity
def test_auto_strengthen_goes_on_until_no_face_is_recognisable(t1_image, t1_faces_large):
    light = PrivacyOptions("blur", strength=0.0)
    report = protect(t1_image, t1_faces_large, light, auto_strengthen=True, audit_settings=DLIB).report
    assert report["rounds"][0]["still_recognisable"] == len(t1_faces_large)
    assert report["audit"]["all_hidden"] and report["audit"]["still_recognisable"] == 0


def test_without_an_identity_model_the_audit_says_why(t1_image, t1_faces_large, monkeypatch):
    monkeypatch.setattr(dlib_descriptor, "is_installed", lambda: False)
    monkeypatch.setattr(embedding.buffalo, "is_available", lambda: False)
    report = protect(t1_image, t1_faces_large, PrivacyOptions("pixelate"), run_audit=True).report["audit"]
    assert report["identity"]["model"] is None and "dlib" in report["identity"]["unavailable"]
    assert all(entry["recognisable"] is None and entry["identity_distance"] is None for entry in report["faces"])
    assert report["all_hidden"]  # judged by detection alone, and saying so


@requires_identity
def test_the_http_answer_reports_recognisable_faces_and_the_model(tmp_path, t1_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            response = await client.post("/api/privacy/mask", headers=bearer(key), json={
                "image_base64": b64(t1_path.read_bytes()), "include_audit": True})
            assert response.status == 200, await response.text()
            return await response.json()

    body = asyncio.run(scenario())
    [report] = [entry["data"] for entry in body["json"] if "images" in entry["data"]]
    findings = report["images"][0]["audit"]
    assert findings["identity"]["model"]["name"] in embedding.SPACES
    assert findings["still_recognisable"] == 0
    assert all(entry["recognisable"] is not True and entry["identity_rank"] >= 1 for entry in findings["faces"])
    assert not any("recognisable" in warning for warning in body["warnings"])
