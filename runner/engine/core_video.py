"""ComfyUI's core video nodes for the runner: Load Video, Get Video Components, Create Video, Save Video.

Same class names, inputs, outputs and output folder layout as ComfyUI's
(``comfy_extras/nodes_video.py``), so a workflow saved in the editor with them
runs unchanged. The VIDEO value is ``VideoFile`` (a file, decoded when its
components are asked for) or ``VideoComponents`` (frames, audio, frame rate).
Decoding and encoding use PyAV frame by frame; as in ComfyUI, the IMAGE batch
of Get Video Components holds every frame (float32 [N,H,W,3]), so the streaming
pipeline (``playalter anonymize``, ``/api/video/...``) is the way for long videos.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ...nodes import compat
from ...nodes.files import reserve_numbered_file
from ...pipelines.core.errors import PlayalterError
from .injected_inputs import injected_input, input_choices, input_path, validate_input
from ...pipelines.core.quoting import excerpt

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif")
AUDIO_LAYOUTS = {1: "mono", 2: "stereo"}


class VideoDecodeError(PlayalterError):
    code = "invalid_video"


@dataclass(frozen=True)
class VideoComponents:
    images: Any  # torch float32 [N,H,W,3], 0..1
    audio: dict | None  # {"waveform": float32 [1,C,S], "sample_rate": int}, as ComfyUI's AUDIO
    frame_rate: Fraction

    def get_components(self) -> VideoComponents:
        return self

    def get_dimensions(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[1])


@dataclass(frozen=True)
class VideoFile:
    source: Path | bytes  # a file, or bytes bound to the Load Video node for the run
    name: str

    def _open(self):
        import av

        try:
            return av.open(str(self.source) if isinstance(self.source, Path) else io.BytesIO(self.source))
        except (av.FFmpegError, OSError) as error:
            raise VideoDecodeError(f"{excerpt(self.name)} is not a readable video ({type(error).__name__})") from None

    def get_dimensions(self) -> tuple[int, int]:
        with self._open() as container:
            stream = _video_stream(container, self.name)
            return stream.codec_context.width, stream.codec_context.height

    def get_components(self) -> VideoComponents:
        """Every frame as RGB, the whole audio track (float planar), the average frame rate."""
        import av
        import torch

        with self._open() as container:
            stream = _video_stream(container, self.name)
            rate = Fraction(stream.average_rate) if stream.average_rate else Fraction(1)
            audio_stream = next(iter(container.streams.audio), None)
            frames: list[np.ndarray] = []
            chunks: list[np.ndarray] = []
            resampler = None
            if audio_stream is not None:
                context = audio_stream.codec_context
                resampler = av.AudioResampler(format="fltp", layout=context.layout, rate=context.sample_rate)
            try:
                for frame in container.decode(*[s for s in (stream, audio_stream) if s is not None]):
                    if isinstance(frame, av.VideoFrame):
                        compat.check_interrupted()
                        frames.append(frame.to_ndarray(format="rgb24"))  # [H,W,3] uint8
                    else:
                        chunks.extend(piece.to_ndarray() for piece in resampler.resample(frame))  # [C,S]
            except av.FFmpegError as error:
                raise VideoDecodeError(f"{excerpt(self.name)} could not be decoded after {len(frames)} frame(s) "
                                       f"({type(error).__name__})") from None
        if not frames:
            raise VideoDecodeError(f"{excerpt(self.name)} holds no video frame")
        images = torch.empty((len(frames), *frames[0].shape), dtype=torch.float32)
        for index in range(len(frames)):
            images[index] = torch.from_numpy(frames[index]).float() / 255.0
            frames[index] = None  # the uint8 copy goes as soon as the float one exists
        audio = None
        if chunks:
            waveform = torch.from_numpy(np.concatenate(chunks, axis=1)).unsqueeze(0)  # [1,C,S]
            audio = {"waveform": waveform, "sample_rate": int(audio_stream.codec_context.sample_rate)}
        return VideoComponents(images, audio, rate)


def _video_stream(container, name: str):
    if not container.streams.video:
        raise VideoDecodeError(f"{excerpt(name)} has no video stream")
    return container.streams.video[0]


def save_video(video, path: Path, crf: int = 20) -> int:
    """Encode the components of ``video`` as H.264 (yuv420p) + AAC in MP4 at ``path``; return the frame count."""
    import av

    components = video.get_components()
    images, rate = components.images, Fraction(round(float(components.frame_rate) * 1000), 1000)
    count, height, width = int(images.shape[0]), int(images.shape[1]), int(images.shape[2])
    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=rate)
        stream.width, stream.height = width - width % 2, height - height % 2  # yuv420p needs even sides
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        audio = components.audio
        audio_stream = output.add_stream("aac", rate=int(audio["sample_rate"])) if audio else None
        for index in range(count):
            compat.check_interrupted()
            pixels = (images[index, :stream.height, :stream.width, :3].clamp(0, 1) * 255).round().byte().cpu().numpy()
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        if audio_stream is not None:
            sample_rate = int(audio["sample_rate"])
            waveform = audio["waveform"][0, :, :math.ceil(sample_rate * count / rate)]  # [C,S], cut to the video
            channels = min(int(waveform.shape[0]), 2)
            samples = waveform[:channels].float().cpu().numpy()
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp",
                                               layout=AUDIO_LAYOUTS[channels])
            frame.sample_rate, frame.pts = sample_rate, 0
            output.mux(audio_stream.encode(frame))
            output.mux(audio_stream.encode(None))
    return count


class LoadVideo:
    DESCRIPTION = "Loads a video from the input folder (or a video bound to this node for the run)."
    CATEGORY = "image/video"
    RETURN_TYPES = ("VIDEO",)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"file": (input_choices(VIDEO_SUFFIXES), {"video_upload": True})}}

    @classmethod
    def VALIDATE_INPUTS(cls, file):
        return validate_input(file, "video")

    def execute(self, file: str):
        bound = injected_input(file)
        if bound is not None:
            return (VideoFile(bound, file.rsplit(":", 1)[-1]),)
        path = input_path(file, "video")
        return (VideoFile(path, path.name),)


class GetVideoComponents:
    DESCRIPTION = "Extracts all components from a video: frames, audio, and framerate."
    CATEGORY = "image/video"
    RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT")
    RETURN_NAMES = ("images", "audio", "fps")
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"video": ("VIDEO", {"tooltip": "The video to extract components from."})}}

    def execute(self, video):
        components = video.get_components()
        return components.images, components.audio, float(components.frame_rate)


class CreateVideo:
    DESCRIPTION = "Create a video from images."
    CATEGORY = "image/video"
    RETURN_TYPES = ("VIDEO",)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The images to create a video from."}),
                "fps": ("FLOAT", {"default": 30.0, "min": 1.0, "max": 120.0, "step": 1.0}),
            },
            "optional": {"audio": ("AUDIO", {"tooltip": "The audio to add to the video."})},
        }

    def execute(self, images, fps: float, audio=None):
        return (VideoComponents(images, audio, Fraction(fps)),)


class SaveVideo:
    DESCRIPTION = "Saves the input images to your ComfyUI output directory."
    CATEGORY = "image/video"
    RETURN_TYPES = ()
    FUNCTION = "execute"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "video": ("VIDEO", {"tooltip": "The video to save."}),
                "filename_prefix": ("STRING", {"default": "video/ComfyUI", "tooltip": "The prefix for the file "
                                                                                      "to save."}),
                "format": (["auto", "mp4"], {"default": "auto", "tooltip": "The format to save the video as."}),
                "codec": (["auto", "h264"], {"default": "auto", "tooltip": "The codec to use for the video."}),
            },
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
        }

    def execute(self, video, filename_prefix: str = "video/ComfyUI", format: str = "auto", codec: str = "auto",
                prompt=None, extra_pnginfo=None):
        saved = reserve_numbered_file(compat.folder("output"), filename_prefix, "mp4")
        save_video(video, saved.path)
        entry = {"filename": saved.filename, "subfolder": saved.subfolder, "type": "output"}
        return {"ui": {"images": [entry], "animated": (True,)}}


VIDEO_NODE_CLASSES: dict[str, type] = {"LoadVideo": LoadVideo, "GetVideoComponents": GetVideoComponents,
                                       "CreateVideo": CreateVideo, "SaveVideo": SaveVideo}
VIDEO_DISPLAY_NAMES: dict[str, str] = {"LoadVideo": "Load Video", "GetVideoComponents": "Get Video Components",
                                       "CreateVideo": "Create Video", "SaveVideo": "Save Video"}
