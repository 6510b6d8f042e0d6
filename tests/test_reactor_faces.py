"""ReActor's face models as identities, identities of several photos, and video swap by a reference identity.

A ReActor face model is written here the way ReActor writes one (safetensors, its nine tensor names and the
dtypes insightface gives them), so reading it proves the real format without ReActor installed.
"""

from __future__ import annotations

import importlib.util
import json
import struct

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from playalter.nodes.swap import PlayAlterLoadFaceIdentity, PlayAlterSaveFaceIdentity
from playalter.pipelines import models
from playalter.pipelines.core import config
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.engine.embedding import ARCFACE, DLIB
from playalter.pipelines.swap import identity, reactor_faces


def _vector(seed: int, size: int = 512) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=size).astype(np.float32)


def _reactor_tensors(embedding: np.ndarray) -> dict[str, np.ndarray]:
    """What ReActor's save_face_model stores for one analysed face (insightface's dtypes)."""
    generator = np.random.default_rng(1)
    return {
        "bbox": np.array([10, 20, 110, 140], np.float32),
        "kps": generator.uniform(20, 100, (5, 2)).astype(np.float32),
        "det_score": np.array(0.87, np.float32),
        "landmark_3d_68": generator.uniform(0, 100, (68, 3)).astype(np.float32),
        "pose": np.array([3.0, -10.0, 1.5], np.float32),
        "landmark_2d_106": generator.uniform(0, 100, (106, 2)).astype(np.float32),
        "embedding": embedding,  # (512,) as ArcFace gives it: not normalised
        "gender": np.array(1, np.int64),
        "age": np.array(34, np.int64),
    }


@pytest.fixture
def identities_folder(tmp_path, monkeypatch):
    """Our identities folder in tmp_path (the models folders stay where the identity model was fetched)."""
    monkeypatch.setenv("PLAYALTER__SWAP__IDENTITIES_DIR", str(tmp_path / "identities"))
    config.reset_settings()
    yield tmp_path / "identities"
    config.reset_settings()


@pytest.fixture
def reactor_folder(tmp_path, monkeypatch):
    """$PLAYALTER_MODELS_DIR/reactor/faces, ReActor's folder under a models root, and our identities folder."""
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PLAYALTER__SWAP__IDENTITIES_DIR", str(tmp_path / "identities"))
    config.reset_settings()
    folder = tmp_path / "models" / "reactor" / "faces"
    folder.mkdir(parents=True)
    yield folder
    config.reset_settings()


def test_a_reactor_face_model_loads_to_its_embedding(reactor_folder):
    raw = _vector(3) * 23.0  # ArcFace's raw norm is about 20-25
    save_file(_reactor_tensors(raw), str(reactor_folder / "anna.safetensors"))
    identity.save(identity.FaceIdentity(_vector(4), name="ben"), identity.path_for("ben"))
    assert identity.saved_names() == ["ben.json", "anna.safetensors"]
    assert "anna.safetensors" in PlayAlterLoadFaceIdentity.INPUT_TYPES()["required"]["name"][1]["tooltip"]
    loaded, summary = PlayAlterLoadFaceIdentity().load("anna.safetensors")
    np.testing.assert_allclose(loaded.embedding, raw / np.linalg.norm(raw), atol=1e-6)
    assert loaded.space == ARCFACE.name and json.loads(summary)["name"] == "anna"


def test_an_identity_written_as_a_reactor_face_model_has_reactors_tensors(reactor_folder):
    built = identity.FaceIdentity(_vector(5), name="cara")
    path = identity.save(built, identity.path_for("cara.safetensors"))
    assert path == reactor_folder / "cara.safetensors"
    with safe_open(str(path), framework="numpy") as handle:
        stored = {key: handle.get_tensor(key) for key in handle.keys()}
    assert {key: (value.shape, value.dtype) for key, value in stored.items()} == {
        key: (value.shape, value.dtype) for key, value in _reactor_tensors(_vector(0)).items()}
    np.testing.assert_array_equal(identity.load(path).embedding, built.embedding)
    with pytest.raises(InvalidParameterError, match="ArcFace"):
        identity.save(identity.FaceIdentity(_vector(6, 128), space=DLIB.name), reactor_folder / "d.safetensors")


def _header_file(path, header: bytes, data: bytes = b"") -> None:
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)


@pytest.mark.parametrize("kind", ["empty", "random", "huge header", "truncated data", "unknown dtype",
                                  "no embedding", "integer embedding", "128 values", "not finite", "too large"])
def test_a_malformed_or_hostile_file_is_a_clear_error(reactor_folder, kind):
    path = reactor_folder / "bad.safetensors"
    tensors = _reactor_tensors(_vector(7))
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4000))
    elif kind == "huge header":
        _header_file(path, b"{", b"")  # declares 1 byte, then the length says far more below
        path.write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    elif kind == "truncated data":
        _header_file(path, json.dumps({"embedding": {"dtype": "F32", "shape": [512],
                                                     "data_offsets": [0, 2048]}}).encode(), b"\0" * 100)
    elif kind == "unknown dtype":
        _header_file(path, json.dumps({"embedding": {"dtype": "X99", "shape": [512],
                                                     "data_offsets": [0, 2048]}}).encode(), b"\0" * 2048)
    elif kind == "no embedding":
        save_file({key: value for key, value in tensors.items() if key != "embedding"}, str(path))
    elif kind == "integer embedding":
        save_file({**tensors, "embedding": np.arange(512, dtype=np.int32)}, str(path))
    elif kind == "128 values":
        save_file({**tensors, "embedding": _vector(8, 128)}, str(path))
    elif kind == "not finite":
        save_file({**tensors, "embedding": np.full(512, np.nan, np.float32)}, str(path))
    else:
        save_file({**tensors, "padding": np.zeros(reactor_faces.MAX_BYTES // 4, np.float32)}, str(path))
    with pytest.raises(InvalidParameterError) as error:
        PlayAlterLoadFaceIdentity().load("bad.safetensors")
    assert "bad.safetensors" in str(error.value) or "embedding" in str(error.value)


def test_several_photos_make_the_normalised_mean_and_other_people_are_refused():
    person = _vector(10)
    photos = [person + 0.3 * np.linalg.norm(person) / np.sqrt(512) * _vector(20 + index) for index in range(3)]
    built, check = identity.from_photos(photos, ["a.jpg", "b.jpg", "c.jpg"], ARCFACE, "dan")
    directions = np.stack([photo / np.linalg.norm(photo) for photo in photos])  # [3,512]
    expected = directions.mean(axis=0) / np.linalg.norm(directions.mean(axis=0))
    np.testing.assert_allclose(built.embedding, expected, atol=1e-6)
    assert built.count == 3 and check["one_person"] and built.sources == ["a.jpg", "b.jpg", "c.jpg"]
    with pytest.raises(InvalidParameterError, match="stranger.jpg") as error:
        identity.from_photos(photos + [_vector(99)], ["a.jpg", "b.jpg", "c.jpg", "stranger.jpg"], ARCFACE)
    assert "a.jpg" not in str(error.value)
    kept, check = identity.from_photos(photos + [_vector(99)], list("abcd"), ARCFACE, check=False)
    assert kept.count == 4 and not check["one_person"]


def test_video_swap_by_a_reactor_face_model_swaps_that_persons_track(reactor_folder, tmp_path, monkeypatch,
                                                                     astronaut_image, capsys):
    """swap-video SOURCE.safetensors --reference OTHER.safetensors: two people side by side (stand-in ArcFace
    embeddings by position), the reference a ReActor face model of the right one: only the right face gets
    the stand-in InSwapper's colour."""
    from swap_models import install_inswapper
    from video_clips import read_frames, window, write_clip

    from playalter.pipelines.video import swap
    from playalter.pipelines.video.anonymize import detector as real_detector
    from playalter.runner.cli.main import main

    install_inswapper(tmp_path / "models", monkeypatch)
    left_person, right_person = _vector(30), _vector(31)

    def detector_with_embeddings(options, dense=None):
        detect = real_detector(options, dense)

        def run(image):
            faces = detect(image)
            for face in faces:
                face.embedding = left_person if (face.bbox[0] + face.bbox[2]) / 2 < 160 else right_person
            return faces

        return run

    monkeypatch.setattr(swap, "detector", detector_with_embeddings)
    save_file(_reactor_tensors(right_person * 21.0), str(reactor_folder / "right.safetensors"))
    save_file(_reactor_tensors(_vector(32) * 19.0), str(reactor_folder / "source.safetensors"))
    frames = [np.hstack([window(astronaut_image, (0.4, 0.3), 1.6, (160, 120)),
                         window(astronaut_image, (0.4 + 0.004 * index, 0.3), 2.0, (160, 120))])
              for index in range(6)]
    clip = write_clip(tmp_path / "two.mp4", frames)
    plain = ["--color-correction", "none", "--feather", "0", "--no-occlusion", "--no-mouth", "--sharpen", "0"]
    assert main(["swap-video", str(reactor_folder / "source.safetensors"), str(clip), "--out", str(tmp_path / "out"),
                 "--reference", str(reactor_folder / "right.safetensors"), "--method", "inswapper", "--crf", "4",
                 "--report", *plain]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "out" / "two_swap.json").read_text())["swap"]
    assert report["method"] == "inswapper" and report["tracks"] == "reference" and "source" in report["source"]
    assert sorted(track["reference_person"] for track in report["people"]["tracks"]) == [False, True]
    shown, _, _ = read_frames(tmp_path / "out" / "two_swapped.mp4")
    original, _, _ = read_frames(clip)
    boxes = (slice(15, 71), slice(68, 113)), (slice(6, 73), slice(226, 281))  # the two faces (rows, columns)
    changes = np.array([[np.abs(out[box].astype(int) - src[box]).mean() for box in boxes]
                        for out, src in zip(shown, original)])  # [frames, 2]: left, right
    assert (changes[:, 1] > 4 * changes[:, 0]).all()


requires_dlib = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None or not models.is_available("identity"),
    reason="dlib or the identity model is absent (pip install dlib-bin; playalter models fetch identity)")


@requires_dlib
def test_identity_build_command_and_node_take_several_photos(identities_folder, tmp_path, astronaut_image,
                                                             t1_image, capsys):
    """playalter identity build: photos of one person make one identity, another person's photo is refused;
    Save Face Identity takes more_images of another size."""
    import cv2

    from playalter.nodes.tensors import numpy_to_image_batch
    from playalter.runner.cli.main import main

    photos = {"a.png": astronaut_image, "a_small.png": cv2.resize(astronaut_image, (300, 300)), "group.png": t1_image}
    for name, image in photos.items():
        cv2.imwrite(str(tmp_path / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert main(["identity", "build", str(tmp_path / "a.png"), str(tmp_path / "a_small.png"), "--name", "eileen",
                 "--identity-model", "dlib"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["count"] == 2 and answer["check"]["one_person"] and answer["space"] == DLIB.name
    assert identity.load(answer["path"]).count == 2
    assert main(["identity", "build", str(tmp_path / "a.png"), str(tmp_path / "group.png"), "--name", "mixed",
                 "--identity-model", "dlib"]) == 2
    assert "do not all show one person" in capsys.readouterr().err
    assert not identity.path_for("mixed").exists()
    built, _, check = PlayAlterSaveFaceIdentity().save(
        numpy_to_image_batch([astronaut_image]), "eileen2", "0", "json", identity_model="dlib",
        more_images=numpy_to_image_batch([photos["a_small.png"]]))["result"]
    assert built.count == 2 and json.loads(check)["one_person"]


def test_face_swap_node_on_frames_replaces_the_reference_person_only_where_present(reactor_folder, tmp_path,
                                                                                     monkeypatch, t1_image):
    """Face Swap with pairing identity on a batch of frames: a frame where the reference person is absent
    keeps every face (the nearest face is farther than the same-person distance), a frame without faces is
    kept, the other gets one swap."""
    import dataclasses

    from swap_models import install_inswapper

    from playalter.nodes.swap import PlayAlterFaceSwap
    from playalter.nodes.tensors import image_batch_to_numpy, numpy_to_image_batch
    from playalter.pipelines.engine.detection import detect_faces

    install_inswapper(tmp_path / "models", monkeypatch)
    faces = detect_faces(t1_image)
    people = [_vector(40 + index) for index in range(len(faces))]
    with_person = [dataclasses.replace(face, embedding=person / np.linalg.norm(person))
                   for face, person in zip(faces, people)]
    without_person = [dataclasses.replace(face, embedding=_vector(60 + index) / np.linalg.norm(_vector(60 + index)))
                      for index, face in enumerate(faces)]
    save_file(_reactor_tensors(people[2] * 20.0), str(reactor_folder / "wanted.safetensors"))
    wanted, _ = PlayAlterLoadFaceIdentity().load("wanted.safetensors")
    saved = identity.save(identity.FaceIdentity(_vector(50), name="src"), identity.path_for("src"))
    source, _ = PlayAlterLoadFaceIdentity().load(saved.name)
    frames = numpy_to_image_batch([t1_image, t1_image, t1_image])
    output, report = PlayAlterFaceSwap().swap(
        target=frames, method="inswapper", source_indices="0", target_indices="all", pairing="identity",
        average_sources=False, color_correction="none", blend_mode="feather", feather=0.0, occlusion=False,
        mouth=False, sharpen=0.0, denoise=0.0, target_faces=[with_person, without_person, []], identity=source,
        reference_identity=wanted)
    first, second, third = image_batch_to_numpy(output)
    images = json.loads(report)["images"]
    assert [entry["target_index"] for entry in images[0]["swaps"]] == [2] and images[1]["swaps"] == []
    assert images[1]["reference"]["people"] == ["wanted"] and "no face" in images[2]["skipped"]
    np.testing.assert_array_equal(second, t1_image)
    np.testing.assert_array_equal(third, t1_image)  # a frame where no face was found
    assert np.abs(first.astype(int) - t1_image).sum() > 0


def test_video_swap_job_takes_identity_files_as_source_and_reference(reactor_folder, tmp_path, monkeypatch,
                                                                      astronaut_image):
    """POST /api/video/swap with a ReActor face model as the part source and our identity file as the part
    reference (stand-in ArcFace: a face's embedding is its side of the frame): the right person's track is
    swapped; a broken identity upload is 422 naming its part."""
    from server_app_helpers import bearer, make_settings, running_app, wait_finished
    from swap_models import install_inswapper
    from test_server_app import error_of, run
    from test_video_http import form
    from video_clips import read_frames, window, write_clip

    from playalter.pipelines.engine import recognition

    install_inswapper(tmp_path / "models", monkeypatch)
    left_person, right_person = _vector(70), _vector(71)
    monkeypatch.setattr(recognition, "is_available", lambda: True)
    def embed_by_side(image, face, device="auto"):
        person = left_person if (face.bbox[0] + face.bbox[2]) / 2 < 160 else right_person
        return person / np.linalg.norm(person)

    monkeypatch.setattr(recognition, "embed", embed_by_side)
    frames = [np.hstack([window(astronaut_image, (0.4, 0.3), 1.6, (160, 120)),
                         window(astronaut_image, (0.4, 0.3), 2.0, (160, 120))])] * 4
    clip = write_clip(tmp_path / "two.mp4", frames)
    save_file(_reactor_tensors(_vector(72) * 20.0), str(tmp_path / "source.safetensors"))
    reference = identity.save(identity.FaceIdentity(right_person, name="right"), tmp_path / "right.json")
    options = {"crf": 4, "color_correction": "none", "feather": 0.0, "occlusion": False, "mouth": False,
               "sharpen": 0.0}

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            video = clip.read_bytes()
            broken = await client.post("/api/video/swap", headers=bearer(key), data=form(
                video, options, source=(tmp_path / "source.safetensors").read_bytes(),
                reference=b'{"format": "playalter.face_identity", "version": 7}'))
            status, code = await error_of(broken)
            assert status == 422 and code == "invalid_parameter"
            answer = await client.post("/api/video/swap", headers=bearer(key), data=form(
                video, options, source=(tmp_path / "source.safetensors").read_bytes(),
                reference=reference.read_bytes()))
            assert answer.status == 202, await answer.text()
            job = await wait_finished(client, key, (await answer.json())["id"], timeout=300)
            assert job["state"] == "completed", job
            [report] = [entry["data"] for entry in job["items"][0]["result"]["json"]]
            assert sorted(track["reference_person"] for track in report["swap"]["people"]["tracks"]) == [False, True]
            download = await client.get(f"/api/jobs/{job['id']}/download", headers=bearer(key))
            (tmp_path / "swapped.mp4").write_bytes(await download.read())

    run(scenario())
    shown, _, _ = read_frames(tmp_path / "swapped.mp4")
    original, _, _ = read_frames(clip)
    boxes = (slice(15, 71), slice(68, 113)), (slice(6, 73), slice(226, 281))  # the two faces (rows, columns)
    changes = np.array([[np.abs(out[box].astype(int) - src[box]).mean() for box in boxes]
                        for out, src in zip(shown, original)])  # [frames, 2]: left, right
    assert (changes[:, 1] > 4 * changes[:, 0]).all()


def test_identity_build_blends_face_models_and_refuses_a_stranger(reactor_folder, tmp_path, capsys):
    """playalter identity build with ReActor face models instead of photos (Build Blended Face Model's job)."""
    from playalter.runner.cli.main import main

    person = _vector(80)
    for number in range(3):
        noisy = person + 0.3 * np.linalg.norm(person) / np.sqrt(512) * _vector(81 + number)
        save_file(_reactor_tensors(noisy * 20.0), str(reactor_folder / f"anna{number}.safetensors"))
    save_file(_reactor_tensors(_vector(90) * 20.0), str(reactor_folder / "stranger.safetensors"))
    models = [str(reactor_folder / f"anna{number}.safetensors") for number in range(3)]
    assert main(["identity", "build", *models, "--name", "anna", "--format", "safetensors"]) == 0
    answer = json.loads(capsys.readouterr().out)
    blended = identity.load(answer["path"])
    expected = np.mean([identity.load(path).embedding for path in models], axis=0)
    np.testing.assert_allclose(blended.embedding, expected / np.linalg.norm(expected), atol=1e-6)
    assert answer["space"] == ARCFACE.name and answer["path"] == str(reactor_folder / "anna.safetensors")
    assert main(["identity", "build", *models, str(reactor_folder / "stranger.safetensors"), "--name", "x"]) == 2
    assert "stranger.safetensors" in capsys.readouterr().err
    assert main(["identity", "build", *models, "--name", "anna", "--format", "safetensors"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["identity", "build", str(reactor_folder / "missing.safetensors"), "--name", "y"]) == 2
    assert "not found" in capsys.readouterr().err


def test_comfyuis_reactor_folder_comes_first(reactor_folder, tmp_path):
    """Inside ComfyUI the host's 'reactor' folders (ComfyUI/models/reactor, extra_model_paths.yaml) are searched
    before ours; a name in both is read from ComfyUI's."""
    comfy = tmp_path / "ComfyUI" / "models" / "reactor"
    (comfy / "faces").mkdir(parents=True)
    save_file(_reactor_tensors(_vector(100)), str(comfy / "faces" / "anna.safetensors"))
    save_file(_reactor_tensors(_vector(101)), str(reactor_folder / "anna.safetensors"))
    save_file(_reactor_tensors(_vector(102)), str(reactor_folder / "ben.safetensors"))
    models.set_host_search_dirs(lambda kind: [str(comfy)] if kind == reactor_faces.FOLDER else [])
    try:
        assert reactor_faces.faces_dirs()[:2] == [comfy / "faces", reactor_folder]
        assert reactor_faces.names() == ["anna.safetensors", "ben.safetensors"]
        loaded = identity.load(identity.path_for("anna.safetensors"))
        np.testing.assert_allclose(loaded.embedding, _vector(100) / np.linalg.norm(_vector(100)), atol=1e-6)
    finally:
        models.set_host_search_dirs(None)
