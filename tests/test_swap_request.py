"""One builder from user input to swap options: the Face Swap node, swap-video and the HTTP video job agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import read_rgb
from mp4_clip import write_clip
from server_app_helpers import bearer, make_settings, running_app, wait_finished
from test_server_app import run
from test_video_http import form

from playalter.nodes.swap import PlayAlterFaceSwap
from playalter.nodes.tensors import numpy_to_image_batch
from playalter.pipelines import video
from playalter.pipelines.core.errors import InvalidParameterError
from playalter.pipelines.swap import pipeline
from playalter.pipelines.swap.blend import BlendOptions
from playalter.pipelines.swap.pipeline import SwapOptions
from playalter.pipelines.swap.request import swap_request
from playalter.runner.cli.main import build_parser, main
from playalter.runner.server.schemas import VIDEO_SWAP_OPTIONS

# One user input, as the HTTP video options name it; the CLI flags below say the same
CHOSEN = {"method": "classical", "color_correction": "histogram", "blend_mode": "poisson", "feather": 0.2,
          "occlusion": False, "mouth": False, "sharpen": 0.5, "denoise": 0.25}
CHOSEN_FLAGS = ["--method", "classical", "--color-correction", "histogram", "--blend-mode", "poisson",
                "--feather", "0.2", "--no-occlusion", "--no-mouth", "--sharpen", "0.5", "--denoise", "0.25"]
# What only the node offers: a video swaps chosen tracks, with the source face its entry point picked
NODE_ONLY = {"source_indices": "0", "target_indices": "all", "pairing": "index", "average_sources": False}


def test_nothing_chosen_is_todays_defaults():
    assert swap_request({}) == SwapOptions()
    schema_defaults = {name: spec["default"] for name, spec in VIDEO_SWAP_OPTIONS["properties"].items()
                       if name != "webhook_url"}  # the job's, not the swap's: no default, absent means none
    assert swap_request(schema_defaults) == SwapOptions()
    cli_defaults = build_parser().parse_args(["swap-video", "me.png", "clip.mp4", "--out", "out"])
    assert swap_request(vars(cli_defaults)) == SwapOptions()
    node_defaults = {name: spec[1]["default"] for name, spec in PlayAlterFaceSwap.INPUT_TYPES()["required"].items()
                     if len(spec) > 1 and "default" in spec[1]}
    assert swap_request(node_defaults) == SwapOptions(target_indices="0")  # the node replaces face 0 by default


def test_the_names_map_onto_the_options_and_other_names_are_not_read():
    options = swap_request({**CHOSEN, "pairing": "order", "target_indices": "0,2", "crf": 30, "func": print})
    assert options == SwapOptions(method="classical", pairing="order", target_indices="0,2",
                                  blend=BlendOptions(color="histogram", mode="poisson", feather=0.2, occlusion=False,
                                                     mouth=False, sharpen=0.5, denoise=0.25))


@pytest.mark.parametrize("values, message", [
    ({"occlusion": "yes"}, "occlusion must be true or false, got 'yes'"),
    ({"mouth": 1}, "mouth must be true or false, got 1"),
    ({"feather": "0.2"}, "feather must be a number from 0 to 1, got '0.2'"),
    ({"sharpen": True}, "sharpen must be a number from 0 to 1, got True"),
    ({"denoise": 1.5}, "denoise must be between 0 and 1, got 1.5"),
    ({"target_indices": "first"}, "target_indices: face indices 'first' are not valid"),
    ({"target_indices": 0}, "target_indices must be text"),
    ({"method": "magic"}, "swap method 'magic' is unknown"),
    ({"pairing": "random"}, "pairing mode 'random' is unknown"),
    ({"color_correction": "sepia"}, "colour correction 'sepia' is unknown"),
    ({"blend_mode": "smudge"}, "blend mode 'smudge' is unknown"),
])
def test_a_wrong_value_is_an_invalid_parameter_naming_it(values, message):
    with pytest.raises(InvalidParameterError, match=message):
        swap_request(values)


def test_the_cli_refuses_a_wrong_value_naming_it(tmp_path, capsys):
    (tmp_path / "clip.mp4").write_bytes(b"never read")
    assert main(["swap-video", "me.png", str(tmp_path / "clip.mp4"), "--out", str(tmp_path), "--feather", "2"]) == 2
    assert "feather must be between 0 and 1, got 2.0" in capsys.readouterr().err


@pytest.fixture()
def captured(monkeypatch):
    """The SwapOptions that reach the pipelines: swap_batch (Face Swap node) under "node", swap_video (CLI and
    HTTP video job) under "video"; neither runs."""
    seen: dict[str, list[SwapOptions]] = {"node": [], "video": []}

    def swap_batch(source_images, target_images, source_faces, target_faces, options, **_):
        seen["node"].append(options)
        return target_images, [{} for _ in target_images]

    def swap_video(source, target_video, output, swap_options=SwapOptions(), video_options=None, **_):
        seen["video"].append(swap_options)
        Path(output).write_bytes(b"not really a video")
        return {"frames": 2, "tracks": [], "fps": 12.0, "audio": None, "swap": {"method": swap_options.method}}

    monkeypatch.setattr(pipeline, "swap_batch", swap_batch)
    monkeypatch.setattr(video, "swap_video", swap_video)
    return seen


def _cli(flags: list[str], photo, clip, out, seen) -> SwapOptions:
    assert main(["swap-video", str(photo), str(clip), "--out", str(out), *flags]) == 0
    return seen["video"].pop()


def _http_video(option_sets: list[dict], photo, clip, tmp_path, seen) -> list[SwapOptions]:
    tmp_path.mkdir()

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            for options in option_sets:
                answer = await client.post("/api/video/swap", headers=bearer(key),
                                           data=form(clip.read_bytes(), options, source=photo.read_bytes()))
                assert answer.status == 202, await answer.text()
                job = await wait_finished(client, key, (await answer.json())["id"])
                assert job["state"] == "completed", job

    run(scenario())
    chosen, seen["video"] = seen["video"], []
    return chosen


def test_the_same_input_gives_the_same_options_from_the_node_the_cli_and_http_video(captured, t1_path, tmp_path):
    image = read_rgb(t1_path)
    clip = write_clip(tmp_path / "clip.mp4", image, frames=2, fps=12, audio=False)
    tensor = numpy_to_image_batch([image])

    PlayAlterFaceSwap().swap(tensor, source=tensor, **CHOSEN, **NODE_ONLY)
    [from_node] = captured["node"]
    from_cli = _cli(CHOSEN_FLAGS, t1_path, clip, tmp_path / "cli", captured)
    from_cli_default = _cli([], t1_path, clip, tmp_path / "cli_default", captured)
    from_http, from_http_default = _http_video([CHOSEN, {}], t1_path, clip, tmp_path / "server", captured)

    assert from_node == from_cli == from_http == swap_request(CHOSEN)
    assert from_cli_default == from_http_default == SwapOptions()  # what both ran before they took these options
    assert from_http.blend.mode == "poisson" and not from_http.blend.occlusion


def test_http_video_refuses_a_bad_swap_option_with_a_400_naming_it(tmp_path, t1_path):
    clip = write_clip(tmp_path / "clip.mp4", read_rgb(t1_path), frames=2, fps=12, audio=False)
    refusals = [({"feather": 1.5}, "options.feather: must be at most 1.0"),
                ({"sharpen": -0.1}, "options.sharpen: must be at least 0.0"),
                ({"blend_mode": "smudge"}, "options.blend_mode: smudge is not one of: feather, poisson"),
                ({"color_correction": "sepia"}, "options.color_correction: sepia is not one of: lab, histogram, none"),
                ({"method": "magic"}, "options.method: magic is not one of: auto, inswapper, classical"),
                ({"occlusion": "yes"}, "options.occlusion: expected boolean, got string"),
                ({"mouth": None}, "options.mouth: expected boolean, got null")]

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            for options, message in refusals:
                answer = await client.post("/api/video/swap", headers=bearer(key),
                                           data=form(clip.read_bytes(), options, source=t1_path.read_bytes()))
                body = await answer.json()
                assert (answer.status, body["error"]["code"], body["error"]["message"]) == (
                    400, "invalid_request", message)

    run(scenario())
