"""Who is this face: dlib's descriptor on real photos, faces chosen by reference, Face Similarity.

The dlib tests need the dlib package (the test extra installs dlib-bin) and the 'identity' model
(.ci/run fetches it); they skip where either is absent. Photos: insightface's t1.jpg (six different
people), scikit-image's astronaut, and ../shared/fixtures/faces (skipped when absent).
"""

from __future__ import annotations

import importlib.util
import json
import sys

import cv2
import numpy as np
import pytest

from conftest import SHARED_FIXTURES, read_rgb, shared_face_photos
from playalter.pipelines import models
from playalter.pipelines.core.errors import DependencyMissingError, InvalidParameterError
from playalter.pipelines.engine import embedding, reference
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.engine.face import Face
from playalter.pipelines.privacy import PrivacyOptions, protect
from playalter.pipelines.privacy.people import People

requires_dlib = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None or not models.is_available("identity"),
    reason="dlib or the identity model is absent (pip install dlib-bin; playalter models fetch identity)")
SPACE = embedding.DLIB


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _copies(image: np.ndarray) -> dict[str, np.ndarray]:
    """The same photo rescaled to 60 %, re-compressed as JPEG quality 50, and turned by 8 degrees."""
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 8, 1.0)
    return {
        "rescaled": cv2.resize(image, (int(width * 0.6), int(height * 0.6)), interpolation=cv2.INTER_AREA),
        "recompressed": _jpeg(image, 50),
        "turned": cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REFLECT),
    }


def _largest(image: np.ndarray) -> np.ndarray:
    return embedding.embed(image, reference.chosen_face(image), SPACE)


@pytest.fixture(scope="module")
def t1_faces_and_vectors(t1_image):
    faces = detect_faces(t1_image, backend="centerface")
    return faces, [embedding.embed(t1_image, face, SPACE) for face in faces]


FIXTURE_SAMPLE = shared_face_photos()[::4]  # every fourth photo: keeps the test quick


@requires_dlib
@pytest.mark.parametrize("path", FIXTURE_SAMPLE, ids=lambda path: path.stem)
def test_a_photo_and_its_copies_are_the_same_person(path):
    image = read_rgb(path)
    original = _largest(image)
    for name, copy in _copies(image).items():
        distance = embedding.distance(original, _largest(copy), SPACE)
        assert embedding.same_person(distance, SPACE), f"{path.name} {name}: {distance:.3f}"


@requires_dlib
def test_t1_copies_are_the_same_people_and_the_six_people_differ(t1_image, t1_faces_and_vectors, astronaut_image):
    faces, vectors = t1_faces_and_vectors
    assert len(faces) == 6
    for first in range(6):
        for second in range(first + 1, 6):
            distance = embedding.distance(vectors[first], vectors[second], SPACE)
            assert not embedding.same_person(distance, SPACE), f"faces {first} and {second}: {distance:.3f}"
    astronaut = _largest(astronaut_image)
    assert all(embedding.distance(astronaut, vector, SPACE) > SPACE.same_person_distance for vector in vectors)
    copy = _copies(t1_image)["recompressed"]
    for face, vector in zip(detect_faces(copy, backend="centerface"), vectors):  # same order: same boxes
        assert embedding.same_person(embedding.distance(vector, embedding.embed(copy, face, SPACE), SPACE), SPACE)


@requires_dlib
def test_each_fixture_photo_is_nearest_to_its_own_copy():
    photos = shared_face_photos()
    if not photos:
        pytest.skip(f"{SHARED_FIXTURES} is absent")
    vectors = {path.name: _largest(read_rgb(path)) for path in photos}
    for path in FIXTURE_SAMPLE:
        copy = _largest(_copies(read_rgb(path))["rescaled"])
        nearest = min(vectors, key=lambda name: embedding.distance(copy, vectors[name], SPACE))
        assert nearest == path.name


def _reference_photo(image: np.ndarray, face) -> np.ndarray:
    """Another picture of one person: the region around the face, rescaled and re-compressed."""
    x1, y1, x2, y2 = (int(value) for value in face.bbox)
    pad = int(0.6 * (x2 - x1))
    crop = image[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
    return _jpeg(cv2.resize(crop, None, fx=1.3, fy=1.3, interpolation=cv2.INTER_CUBIC), 70)


def _face_changed(before: np.ndarray, after: np.ndarray, face) -> bool:
    x1, y1, x2, y2 = (int(value) for value in face.bbox)
    return not np.array_equal(before[y1:y2, x1:x2], after[y1:y2, x1:x2])


@requires_dlib
def test_hide_everyone_except_keeps_exactly_the_reference_person(t1_image, t1_faces_and_vectors):
    faces, _ = t1_faces_and_vectors
    consenting = 2
    people = People("everyone_except", reference.from_photos([_reference_photo(t1_image, faces[consenting])], SPACE))
    result = protect(t1_image, faces, PrivacyOptions("pixelate", strength=1.0, coverage="face"), people=people)
    changed = [_face_changed(t1_image, result.image, face) for face in faces]
    assert changed == [index != consenting for index in range(len(faces))]
    kept = [entry for entry in result.report["people"]["faces"] if not entry["hidden"]]
    assert [entry["index"] for entry in kept] == [consenting] and kept[0]["distance"] < SPACE.same_person_distance
    assert result.report["people"]["model"]["name"] == SPACE.name


@requires_dlib
def test_hide_only_this_person_leaves_everyone_else(t1_image, t1_faces_and_vectors):
    faces, _ = t1_faces_and_vectors
    person = 4
    people = People("only", reference.from_photos([_reference_photo(t1_image, faces[person])], SPACE))
    result = protect(t1_image, faces, PrivacyOptions("blur", strength=1.0, coverage="face"), people=people)
    assert [_face_changed(t1_image, result.image, face) for face in faces] == [index == person for index in range(6)]


@requires_dlib
def test_auto_strengthen_never_hides_the_kept_person(t1_image, t1_faces_and_vectors):
    """The audit re-detects the visible person; that is not a face the detection missed."""
    faces, _ = t1_faces_and_vectors
    people = People("everyone_except", reference.from_photos([_reference_photo(t1_image, faces[0])], SPACE))
    result = protect(t1_image, faces, PrivacyOptions("solid", strength=1.0), auto_strengthen=True, people=people)
    assert not _face_changed(t1_image, result.image, faces[0])
    assert result.report["audit"]["kept_visible_detections"] >= 1
    assert all(_face_changed(t1_image, result.image, face) for face in faces[1:])


def test_people_modes_need_a_reference():
    with pytest.raises(InvalidParameterError, match="needs a reference"):
        People("everyone_except")
    with pytest.raises(InvalidParameterError, match="unknown"):
        People("nobody")


def test_spaces_are_never_mixed():
    arcface_vector = np.ones(512, np.float32)
    with pytest.raises(InvalidParameterError, match="cannot be compared"):
        embedding.distance(arcface_vector, np.ones(128, np.float32), embedding.DLIB)
    with pytest.raises(InvalidParameterError, match="cannot be compared"):
        embedding.require_same_space(embedding.ARCFACE.name, embedding.DLIB.name)
    embedding.require_same_space("arcface", embedding.ARCFACE.name)  # older identity files are ArcFace's
    assert embedding.distance(np.zeros(128), np.full(128, 0.05), embedding.DLIB) == pytest.approx(0.05 * np.sqrt(128))
    assert embedding.distance(arcface_vector, -arcface_vector, embedding.ARCFACE) == pytest.approx(2.0)


def test_missing_dlib_is_a_clear_error_naming_the_fix(monkeypatch):
    from playalter.pipelines.engine import dlib_descriptor
    from playalter.pipelines.models import buffalo

    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    monkeypatch.setattr(dlib_descriptor, "is_installed", lambda: False)
    monkeypatch.setattr(buffalo, "is_available", lambda: False)
    with pytest.raises(DependencyMissingError, match=r'playalter\[identity\].*playalter models fetch identity'):
        embedding.resolve_space("auto")
    with pytest.raises(DependencyMissingError, match="dlib-bin"):
        dlib_descriptor.embed(np.zeros((64, 64, 3), np.uint8), Face(bbox=[0, 0, 60, 60], score=1, kps=np.zeros((5, 2))))


def test_unknown_identity_model_is_refused():
    with pytest.raises(InvalidParameterError, match="auto, arcface, dlib"):
        embedding.resolve_space("facenet")


@requires_dlib
def test_face_similarity_node(t1_image, astronaut_image):
    from playalter.nodes.identity import PlayAlterFaceSimilarity
    from playalter.nodes.tensors import numpy_to_image_batch

    node = PlayAlterFaceSimilarity()
    copy = numpy_to_image_batch([_copies(astronaut_image)["turned"]])
    distance, same, report = node.compare(numpy_to_image_batch([astronaut_image]), copy, 0, 0, "dlib")
    assert same is True and distance < SPACE.same_person_distance
    assert json.loads(report)["model"] == {"name": SPACE.name, "licence": SPACE.licence}
    distance, same, _ = node.compare(numpy_to_image_batch([t1_image]), copy, 0, 0, "dlib")
    assert same is False and distance > SPACE.same_person_distance


@requires_dlib
def test_swap_video_by_reference_swaps_only_the_reference_persons_track(tmp_path, t1_image, astronaut_image,
                                                                         t1_faces_and_vectors, capsys):
    """swap-video --reference: a clip with the astronaut beside a person of t1.jpg; the reference is another
    picture of the astronaut, so only her track changes."""
    from playalter.runner.cli.main import main
    from video_clips import read_frames, window, write_clip

    faces, _ = t1_faces_and_vectors
    x1, y1, x2, y2 = (int(value) for value in faces[1].bbox)
    pad = (x2 - x1) // 2
    neighbour = cv2.resize(t1_image[y1 - pad:y2 + pad, x1 - pad:x2 + pad], (160, 160), interpolation=cv2.INTER_AREA)
    frames = [np.hstack([window(astronaut_image, (0.43, 0.28), 2.2, (160, 160)), neighbour])] * 8
    clip = write_clip(tmp_path / "two.mp4", frames)
    source, reference_photo = tmp_path / "source.png", tmp_path / "astronaut.png"
    cv2.imwrite(str(source), cv2.cvtColor(t1_image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(reference_photo), cv2.cvtColor(_jpeg(astronaut_image, 60), cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    assert main(["swap-video", str(source), str(clip), "--out", str(out), "--method", "classical", "--crf", "4",
                 "--reference", str(reference_photo), "--identity-model", "dlib", "--report"]) == 0
    capsys.readouterr()
    report = json.loads((out / "two_swap.json").read_text())["swap"]
    assert report["tracks"] == "reference" and report["people"]["model"]["name"] == SPACE.name
    assert [track["reference_person"] for track in report["people"]["tracks"]].count(True) == 1
    shown, _, _ = read_frames(out / "two_swapped.mp4")
    original, _, _ = read_frames(clip)
    boxes = [[slice(int(face.bbox[1]), int(face.bbox[3])), slice(int(face.bbox[0]), int(face.bbox[2]))]
             for face in sorted(detect_faces(frames[0], backend="centerface"), key=lambda face: face.bbox[0])]
    changes = np.array([[np.abs(after[tuple(box)].astype(int) - before[tuple(box)]).mean() for box in boxes]
                        for after, before in zip(shown, original)])  # [frames, 2]: astronaut, neighbour
    assert (changes[:, 0] > 4 * changes[:, 1]).all()


@requires_dlib
def test_anonymize_command_keeps_the_person_of_a_saved_identity(tmp_path, t1_image, t1_path, t1_faces_and_vectors,
                                                                capsys):
    """anonymize --keep IDENTITY.json: the consenting person, saved as a dlib identity, stays visible."""
    from playalter.pipelines.swap import identity
    from playalter.runner.cli.main import main

    faces, vectors = t1_faces_and_vectors
    saved = identity.save(identity.FaceIdentity(vectors[5], name="consent", space=SPACE.name), tmp_path / "c.json")
    out = tmp_path / "out"
    assert main(["anonymize", str(t1_path), "--out", str(out), "--type", "solid", "--keep", str(saved),
                 "--audit"]) == 0
    assert "kept visible" in capsys.readouterr().out
    shown = read_rgb(out / "t1_anonymized.png")
    assert [_face_changed(t1_image, shown, face) for face in faces] == [index != 5 for index in range(6)]
    report = json.loads((out / "t1_privacy.json").read_text())
    assert report["people"]["mode"] == "everyone_except" and report["people"]["people"] == ["consent"]


@requires_dlib
def test_anonymize_video_hides_only_the_reference_persons_track(tmp_path, t1_image, astronaut_image,
                                                                t1_faces_and_vectors):
    from playalter.pipelines.video import VideoOptions, anonymize_video
    from video_clips import read_frames, window, write_clip

    faces, _ = t1_faces_and_vectors
    x1, y1, x2, y2 = (int(value) for value in faces[1].bbox)
    pad = (x2 - x1) // 2
    neighbour = cv2.resize(t1_image[y1 - pad:y2 + pad, x1 - pad:x2 + pad], (160, 160), interpolation=cv2.INTER_AREA)
    frame = np.hstack([window(astronaut_image, (0.43, 0.28), 2.2, (160, 160)), neighbour])
    clip = write_clip(tmp_path / "two.mp4", [frame] * 6)
    people = People("only", reference.from_photos([_jpeg(astronaut_image, 60)], SPACE))
    report = anonymize_video(clip, tmp_path / "hidden.mp4", PrivacyOptions("solid", coverage="face"),
                             VideoOptions(crf=4), people=people)
    assert [track["reference_person"] for track in report["people"]["tracks"]].count(True) == 1
    shown, _, _ = read_frames(tmp_path / "hidden.mp4")
    original, _, _ = read_frames(clip)
    boxes = [(slice(int(face.bbox[1]), int(face.bbox[3])), slice(int(face.bbox[0]), int(face.bbox[2])))
             for face in sorted(detect_faces(frame, backend="centerface"), key=lambda face: face.bbox[0])]
    changes = np.array([[np.abs(after[box].astype(int) - before[box]).mean() for box in boxes]
                        for after, before in zip(shown, original)])  # [frames, 2]: astronaut, neighbour
    assert (changes[:, 0] > 30).all() and (changes[:, 1] < 5).all()


def test_face_similarity_node_refuses_batches_and_faces_it_would_not_compare(astronaut_image):
    """One distance out: a batch of several images, or FACES for another image, is refused, not cut to its first."""
    from playalter.nodes.identity import PlayAlterFaceSimilarity
    from playalter.nodes.tensors import numpy_to_image_batch

    one, two = numpy_to_image_batch([astronaut_image]), numpy_to_image_batch([astronaut_image] * 2)
    face = Face(bbox=[9000, 9000, 9100, 9100], score=1, kps=np.full((5, 2), 9050.0) + np.arange(5)[:, None])
    node = PlayAlterFaceSimilarity()
    with pytest.raises(InvalidParameterError, match="reference holds a batch of 2 images"):
        node.compare(one, two, 0, 0, "dlib")
    with pytest.raises(InvalidParameterError, match="FACES connected for image describe 0 images"):
        node.compare(one, one, 0, 0, "dlib", faces=[])
    with pytest.raises(InvalidParameterError, match="face 0 of the image has the box .* outside the 512x512"):
        node.compare(one, one, 0, 0, "dlib", faces=[[face]])
