"""The few ComfyUI core nodes a saved PLAYALTER workflow uses: LoadImage, SaveImage, PreviewImage,
and the video nodes of ``core_video.py``.

Same class names, inputs and outputs as ComfyUI's, so a workflow saved in the
editor runs unchanged. Folders come from ``nodes.compat.folder`` (set per run by
the executor); every file name is resolved inside its folder (``nodes.files``).
LoadImage also reads images injected for the run (bytes bound to a node) before
looking in the input folder.
"""

from __future__ import annotations

import io
import json
import secrets

import numpy as np

from ...nodes.io import PlayAlterSaveImage
from ...pipelines.core.config import settings
from ...pipelines.images import load_image
from .core_video import VIDEO_DISPLAY_NAMES, VIDEO_NODE_CLASSES
from .injected_inputs import injected as _injected
from .injected_inputs import input_choices, input_path, validate_input

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")

def _read_image_bytes(name: str) -> bytes:
    injected = _injected()
    if name in injected:
        return injected[name]
    return input_path(name, "image").read_bytes()


def _decode(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Encoded image -> (uint8 [H,W,3] RGB, float32 [H,W] mask where 1 = transparent).

    Pixels come from ``pipelines.images.load_image`` (the engine's one checked
    way in: size limits, format sniffing, EXIF orientation); the mask from the
    alpha channel, as ComfyUI's LoadImage makes it.
    """
    from PIL import Image, ImageOps

    rgb = load_image(data)  # [H,W,3] uint8; raises ImageValidationError with a user message
    with Image.open(io.BytesIO(data)) as opened:
        has_alpha = "A" in opened.getbands() or "transparency" in opened.info
        if not has_alpha:
            return rgb, np.zeros(rgb.shape[:2], dtype=np.float32)  # [H,W]
        alpha = ImageOps.exif_transpose(opened).convert("RGBA").getchannel("A")
    return rgb, 1.0 - np.asarray(alpha, dtype=np.float32) / 255.0  # [H,W]


class LoadImage:
    DESCRIPTION = "Loads an image from the input folder (or an image bound to this node for the run)."
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (input_choices(IMAGE_SUFFIXES), {"image_upload": True})}}

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        return validate_input(image, "image")

    def load_image(self, image: str):
        from ...nodes.tensors import numpy_to_image_batch, numpy_to_mask_batch

        rgb, mask = _decode(_read_image_bytes(image))
        return numpy_to_image_batch([rgb]), numpy_to_mask_batch([mask])


class SaveImage(PlayAlterSaveImage):
    """ComfyUI's core Save Image on the pack's PNG writer, adding the workflow metadata ComfyUI embeds."""

    DESCRIPTION = (
        "Saves images to the output folder as {prefix}_{counter:05}_.png. The PNGs carry no metadata "
        "unless the embed_workflow_in_images setting asks for the workflow (as ComfyUI writes it)."
    )
    CATEGORY = "image"
    FUNCTION = "save_images"
    default_prefix = "ComfyUI"

    @classmethod
    def INPUT_TYPES(cls):
        return {**super().INPUT_TYPES(), "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save_images(self, images, filename_prefix: str = "ComfyUI", prompt=None, extra_pnginfo=None):
        from PIL.PngImagePlugin import PngInfo

        metadata = PngInfo()
        if settings().embed_workflow_in_images:
            if prompt is not None:
                metadata.add_text("prompt", json.dumps(prompt))
            for key, value in (extra_pnginfo or {}).items():
                metadata.add_text(key, json.dumps(value))
        return self.write_pngs(images, filename_prefix, metadata)


class PreviewImage(SaveImage):
    DESCRIPTION = "Saves images to the temp folder for display."
    folder_kind = "temp"
    compress_level = 1

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",)}, "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save_images(self, images, filename_prefix: str = "ComfyUI", prompt=None, extra_pnginfo=None):
        temp_prefix = f"ComfyUI_temp_{secrets.token_hex(3)}"
        return super().save_images(images, temp_prefix, prompt, extra_pnginfo)


CORE_NODE_CLASSES: dict[str, type] = {"LoadImage": LoadImage, "SaveImage": SaveImage, "PreviewImage": PreviewImage,
                                      **VIDEO_NODE_CLASSES}
CORE_DISPLAY_NAMES: dict[str, str] = {
    "LoadImage": "Load Image",
    "SaveImage": "Save Image",
    "PreviewImage": "Preview Image",
    **VIDEO_DISPLAY_NAMES,
}
