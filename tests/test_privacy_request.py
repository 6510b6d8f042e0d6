"""One builder from user input to privacy options: the node, the anonymize CLI and the HTTP video job agree."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import read_rgb
from mp4_clip import write_clip
from server_app_helpers import bearer, make_settings, running_app, wait_finished
from test_server_app import run
from test_video_http import form

from playalter.nodes.privacy import PlayAlterPrivacyDetect, PlayAlterPrivacyMask
from playalter.nodes.tensors import numpy_to_image_batch
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.privacy import PRIVACY_DETECTION, PrivacyOptions, batch, finding, full_pass
from playalter.pipelines.privacy.request import PrivacyRequest, privacy_request
from playalter.pipelines.video import anonymize as video_anonymize
from playalter.runner.cli.main import main

# One user input, as the HTTP video options name it; the CLI flags and node inputs below say the same
CHOSEN = {"mask_type": "pixelate", "strength": 0.8, "coverage": "head", "feather": 0.2, "seed": 7,
          "color": "#102030", "threshold": 0.3, "thorough": True, "auto_strengthen": True}
CHOSEN_FLAGS = ["--type", "pixelate", "--strength", "0.8", "--coverage", "head", "--feather", "0.2", "--seed", "7",
                "--color", "#102030", "--threshold", "0.3", "--thorough", "--auto-strengthen"]
# What only the CLI and HTTP video offer
CPU_CHOICES = {"overview_sides": [320, 800], "int8": True}
CPU_FLAGS = ["--overview-sides", "320", "800", "--int8"]


def test_nothing_chosen_is_todays_defaults():
    assert privacy_request({}) == PrivacyRequest(PrivacyOptions(), PRIVACY_DETECTION, False, False)


def test_auto_strengthen_implies_the_audit_and_int8_turns_the_cascade_on():
    request = privacy_request({**CHOSEN, **CPU_CHOICES, "crf": 30, "func": print})  # other names are not read
    assert request.run_audit and request.auto_strengthen
    assert request.options == PrivacyOptions("pixelate", strength=0.8, coverage="head", feather=0.2, seed=7,
                                             color=(16, 32, 48))
    assert (request.detection.threshold, request.detection.overview_sides) == (0.3, (320, 800))
    assert request.detection.thorough and request.detection.int8
    assert not privacy_request({}).detection.int8
    assert privacy_request({"audit": True}).run_audit and not privacy_request({"audit": True}).auto_strengthen


@pytest.mark.parametrize("values, message", [
    ({"thorough": "yes"}, "thorough must be true or false, got 'yes'"),
    ({"auto_strengthen": 1}, "auto_strengthen must be true or false, got 1"),
    ({"threshold": 1.5}, "threshold must be between 0 and 1, got 1.5"),
    ({"overview_sides": [10]}, "overview sides must be whole numbers of at least 64"),
    ({"mask_type": "glitter"}, "glitter"),
    ({"margin": 2.0}, "margin must be from 0 to 1"),
])
def test_a_wrong_value_is_an_invalid_parameter_naming_it(values, message):
    with pytest.raises(InvalidParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        privacy_request(values)


@pytest.fixture()
def captured(monkeypatch):
    """What reaches the pipelines, as a PrivacyRequest per entry point: find_faces and protect (CLI photos),
    protect_batch (Privacy Mask node), anonymize_video (HTTP video job); none of them runs."""
    seen: dict[str, dict] = {}

    def find_faces(image, detection, **_):
        seen.setdefault("detection", []).append(detection)
        return []

    def protect(image, faces, options, run_audit=False, auto_strengthen=False, **_):
        seen["cli"] = PrivacyRequest(options, seen["detection"].pop(), run_audit, auto_strengthen)
        report = {"faces": [], "audit": {"still_detected": 0, "missed": [], "still_recognisable": 0,
                                         "identity": {"model": None}}}
        return full_pass.Protected(image, np.zeros(image.shape[:2], np.float32), report)

    def protect_batch(images, faces, options, run_audit=False, auto_strengthen=False, **_):
        seen["node"] = PrivacyRequest(options, seen["detection"].pop(), run_audit, auto_strengthen)
        return images, [np.zeros(image.shape[:2], np.float32) for image in images], {}

    def anonymize_video(source, target, privacy_options, video_options, run_audit=False, auto_strengthen=False,
                        detection=PRIVACY_DETECTION, **_):
        seen.setdefault("http", []).append(PrivacyRequest(privacy_options, detection, run_audit, auto_strengthen))
        target.write_bytes(b"not really a video")
        return {"tracks": []}

    monkeypatch.setattr(finding, "find_faces", find_faces)
    monkeypatch.setattr(full_pass, "protect", protect)
    monkeypatch.setattr(batch, "protect_batch", protect_batch)
    monkeypatch.setattr(video_anonymize, "anonymize_video", anonymize_video)
    return seen


def _cli(flags: list[str], photo, out, seen) -> PrivacyRequest:
    assert main(["anonymize", str(photo), "--out", str(out), *flags]) == 0
    return seen.pop("cli")


def _http_video(option_sets: list[dict], clip, tmp_path, seen) -> list[PrivacyRequest]:
    tmp_path.mkdir()

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            for options in option_sets:
                answer = await client.post("/api/video/anonymize", headers=bearer(key),
                                           data=form(clip.read_bytes(), options))
                assert answer.status == 202, await answer.text()
                job = await wait_finished(client, key, (await answer.json())["id"])
                assert job["state"] == "completed", job

    run(scenario())
    return seen.pop("http")


def test_the_same_input_gives_the_same_request_from_the_cli_the_node_and_http_video(captured, t1_path, tmp_path):
    photo = tmp_path / "small.png"
    image = np.ascontiguousarray(read_rgb(t1_path)[:64, :64])  # [64,64,3]; the fakes detect nothing
    Image.fromarray(image).save(photo)
    clip = write_clip(tmp_path / "clip.mp4", read_rgb(t1_path), frames=2, fps=12, audio=False)

    from_cli = _cli(CHOSEN_FLAGS, photo, tmp_path / "cli", captured)
    tensor = numpy_to_image_batch([image])
    faces = PlayAlterPrivacyDetect().detect(tensor, CHOSEN["threshold"], CHOSEN["thorough"])[0]
    PlayAlterPrivacyMask().mask(tensor, faces, CHOSEN["mask_type"], CHOSEN["strength"], CHOSEN["coverage"],
                                CHOSEN["feather"], CHOSEN["seed"], CHOSEN["color"], audit=False,
                                auto_strengthen=CHOSEN["auto_strengthen"], temporal=False)
    from_node = captured.pop("node")
    from_cli_cpu = _cli(CHOSEN_FLAGS + CPU_FLAGS, photo, tmp_path / "cli_cpu", captured)
    from_http, from_http_cpu = _http_video([CHOSEN, {**CHOSEN, **CPU_CHOICES}], clip, tmp_path / "server", captured)

    assert from_cli == from_node == from_http == privacy_request(CHOSEN)
    assert from_cli_cpu == from_http_cpu == privacy_request({**CHOSEN, **CPU_CHOICES})
    assert from_http.detection.thorough and from_http.auto_strengthen and from_http.run_audit
    assert from_http_cpu.detection.overview_sides == (320, 800) and from_http_cpu.detection.int8


def test_http_video_refuses_a_bad_detection_setting_with_a_400_naming_it(tmp_path, t1_path):
    clip = write_clip(tmp_path / "clip.mp4", read_rgb(t1_path), frames=2, fps=12, audio=False)
    refusals = [({"thorough": "yes"}, "options.thorough: expected boolean, got string"),
                ({"auto_strengthen": 1}, "options.auto_strengthen: expected boolean, got integer"),
                ({"threshold": 1.0}, "options.threshold: must be less than 1.0"),
                ({"overview_sides": [10]}, "options.overview_sides.0: must be at least 64"),
                ({"int8": None}, "options.int8: expected boolean, got null")]

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            for options, message in refusals:
                answer = await client.post("/api/video/anonymize", headers=bearer(key),
                                           data=form(clip.read_bytes(), options))
                body = await answer.json()
                assert (answer.status, body["error"]["code"], body["error"]["message"]) == (
                    400, "invalid_request", message)

    run(scenario())
