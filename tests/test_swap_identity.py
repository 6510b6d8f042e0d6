"""Face identities: averaging, saving, loading and validation; pairing by identity."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest

from playalter.pipelines.core import config
from playalter.pipelines.core.errors import InvalidParameterError, NoFaceError
from playalter.pipelines.engine import embedding
from playalter.pipelines.engine.embedding import ARCFACE, DLIB
from playalter.pipelines.engine.face import Face
from playalter.pipelines.engine.reference import Reference
from playalter.pipelines.swap import identity, pairing


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _face(x: float, embedding=None) -> Face:
    kps = np.array([[x + 30, 40], [x + 70, 40], [x + 50, 60], [x + 35, 80], [x + 65, 80]], np.float32)
    return Face(bbox=[x, 0, x + 100, 120], score=0.9, kps=kps, embedding=embedding)


def test_average_is_normalised_centroid():
    first, second = _unit(1), _unit(2)
    averaged = identity.average([first, 5 * second])  # scale does not matter: each is normalised first
    expected = (first + second) / np.linalg.norm(first + second)
    np.testing.assert_allclose(averaged, expected, atol=1e-6)
    # the average is closer to each photo than the photos are to each other
    assert averaged @ first > first @ second and averaged @ second > first @ second


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_load_round_trip(tmp_path, suffix):
    built = identity.from_faces([_face(0, _unit(1)), _face(200, _unit(2))], name="ann", sources=["a.jpg", "b.jpg"])
    path = identity.save(built, tmp_path / f"ann{suffix}")
    loaded = identity.load(path)
    np.testing.assert_array_equal(loaded.embedding, built.embedding)
    assert (loaded.name, loaded.count, loaded.sources, loaded.created) == ("ann", 2, ["a.jpg", "b.jpg"], built.created)
    assert path.stat().st_size < 16_000


def test_invalid_identity_files_are_rejected(tmp_path):
    good = identity.FaceIdentity(_unit(1), name="x").to_dict()
    cases = {
        "wrong_format": {**good, "format": "something else"},
        "wrong_version": {**good, "version": 99},
        "short": {**good, "embedding": [0.1] * 10},
        "nan": {**good, "embedding": [float("nan")] * 512},
        "zeros": {**good, "embedding": [0.0] * 512},
        "missing": {key: value for key, value in good.items() if key != "embedding"},
    }
    messages = {
        "wrong_format": "not a PLAYALTER face identity", "wrong_version": "version 99", "short": "512 values",
        "nan": "NaN", "zeros": "all zeros", "missing": "malformed",
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        with pytest.raises(InvalidParameterError, match=messages[name]):
            identity.load(path)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InvalidParameterError, match="not valid JSON"):
        identity.load(tmp_path / "broken.json")
    (tmp_path / "broken.npz").write_bytes(b"garbage")
    with pytest.raises(InvalidParameterError, match="not a valid identity .npz"):
        identity.load(tmp_path / "broken.npz")
    with pytest.raises(InvalidParameterError, match="not found"):
        identity.load(tmp_path / "absent.json")


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


UNREADABLE_IDENTITY_FILES = {  # each raised an exception other than InvalidParameterError (a 500 over HTTP)
    "not_a_zip.npz": b"PK\x03\x04" + bytes(range(256)),
    "cut_short.npz": _npz(embedding=np.ones(512, np.float32), metadata=np.array('{"format": "x"}'))[:200],
    "metadata_a_list.npz": _npz(embedding=np.ones(512, np.float32), metadata=np.array("[1, 2]")),
    "nested_too_deep.json": b"{" + b'"a": {' * 100_000 + b"}" * 100_001,
    "number_too_long.json": b'{"format": "playalter.face_identity", "version": 1' + b"0" * 5000 + b"}",
    "count_infinite.json": b'{"format": "playalter.face_identity", "version": 1, "embedding": [1], "count": Infinity}',
}


@pytest.mark.parametrize("name", UNREADABLE_IDENTITY_FILES)
def test_an_unreadable_identity_file_is_a_clear_error_in_our_words(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(UNREADABLE_IDENTITY_FILES[name])
    with pytest.raises(InvalidParameterError) as raised:
        identity.load(path)
    message = str(raised.value)
    assert name in message and "Error" not in message and "Expecting" not in message, message


def test_named_identities_stay_in_their_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYALTER__SWAP__IDENTITIES_DIR", str(tmp_path))
    config.reset_settings()
    try:
        assert identity.path_for("ann") == tmp_path / "ann.json"
        assert identity.path_for("ann.npz") == tmp_path / "ann.npz"
        for bad in ("../etc/passwd", "/abs/path", "a/b", ""):
            with pytest.raises(InvalidParameterError, match="not allowed"):
                identity.path_for(bad)
        identity.save(identity.FaceIdentity(_unit(3)), identity.path_for("ann"))
        assert identity.saved_names() == ["ann.json"]
    finally:
        config.reset_settings()


def test_faces_without_embeddings_cannot_build_an_identity():
    with pytest.raises(InvalidParameterError, match="no ArcFace embedding"):
        identity.from_faces([_face(0)])
    with pytest.raises(NoFaceError):
        identity.average([])


def test_identity_pairing_picks_the_closest_target():
    person = _unit(7)
    lookalike = person + 0.3 * _unit(8)
    faces = [_face(0, _unit(9)), _face(200, lookalike / np.linalg.norm(lookalike)), _face(400, _unit(10))]
    image = np.zeros((120, 500, 3), np.uint8)  # the faces carry their ArcFace embeddings: nothing is embedded
    reference = Reference(ARCFACE, (person,), ("person",))
    pairs = pairing.pair(1, faces, "identity", "all", reference=reference, target_image=image)
    assert [(pair.source, pair.target) for pair in pairs] == [(0, 1)]
    assert pairs[0].reference_distance < ARCFACE.same_person_distance
    stranger = Reference(ARCFACE, (_unit(11),), ("stranger",))  # nobody's face: nothing to replace
    assert pairing.pair(1, faces, "identity", "all", reference=stranger, target_image=image) == []
    with pytest.raises(InvalidParameterError, match="needs a reference"):
        pairing.pair(1, faces, "identity", "all", target_image=image)
    with pytest.raises(InvalidParameterError, match="needs the target image"):
        pairing.pair(1, faces, "identity", "all", reference=reference)


def test_the_check_of_several_photos_flags_the_stranger():
    person = _unit(20)
    photos = [person + 0.1 * _unit(21 + index) for index in range(3)] + [_unit(30)]  # three of one person, one other
    check = identity.check_one_person(photos, ["a", "b", "c", "stranger"], ARCFACE)
    assert [entry["same_person"] for entry in check["sources"]] == [True, True, True, False]
    assert check["one_person"] is False and check["model"]["name"] == ARCFACE.name
    assert identity.check_one_person(photos[:3], ["a", "b", "c"], ARCFACE)["one_person"] is True


def test_identities_record_their_space_and_are_never_compared_across_spaces(tmp_path):
    dlib_vector = np.random.default_rng(3).normal(scale=0.1, size=128).astype(np.float32)
    saved = identity.save(identity.FaceIdentity(dlib_vector, name="dee", space=DLIB.name), tmp_path / "dee.json")
    loaded = identity.load(saved)
    assert loaded.space == DLIB.name and json.loads(saved.read_text())["space"] == DLIB.name
    np.testing.assert_allclose(loaded.embedding, dlib_vector, atol=1e-6)  # Euclidean space: not normalised
    older = {**identity.FaceIdentity(_unit(1)).to_dict(), "model": "arcface"}
    del older["space"]  # a file written before spaces were recorded is ArcFace's
    assert identity.FaceIdentity.from_dict(older).space == ARCFACE.name
    with pytest.raises(InvalidParameterError, match="512 values"):
        identity.FaceIdentity(dlib_vector)  # a 128-value vector is not an ArcFace embedding
    with pytest.raises(InvalidParameterError, match="cannot be compared"):
        identity.reference_of([loaded, identity.FaceIdentity(_unit(2), name="arc")])
    with pytest.raises(InvalidParameterError, match="cannot be compared"):
        embedding.distance(dlib_vector, _unit(2), DLIB)  # an ArcFace vector measured in dlib's space
