"""Saving outputs as files: JSON STRING outputs (measurements, audits, reports) and images with pixels only."""

from __future__ import annotations

import json

from ..pipelines.errors import InvalidParameterError
from . import compat
from .files import reserve_numbered_file


class PlayAlterSaveJSON:
    DESCRIPTION = (
        "Saves a JSON text (any PLAYALTER JSON output) to the output folder as "
        "{prefix}_{counter:05}_.json and shows it; runs of saved workflows return it."
    )
    CATEGORY = "PLAYALTER/io"
    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "json_text": ("STRING", {"forceInput": True, "tooltip": "a JSON document, e.g. a measurements output"}),
                "filename_prefix": (
                    "STRING",
                    {"default": "playalter", "tooltip": "file name start; may contain a subfolder"},
                ),
            }
        }

    def save(self, json_text: str, filename_prefix: str = "playalter"):
        try:
            json.loads(json_text)
        except (TypeError, ValueError) as error:
            raise InvalidParameterError(f"json_text is not valid JSON ({error}); connect a JSON output") from error
        saved = reserve_numbered_file(compat.folder("output"), filename_prefix, "json")
        saved.path.write_text(json_text, encoding="utf-8")
        file_entry = {"filename": saved.filename, "subfolder": saved.subfolder, "type": "output"}
        return {"ui": {"json": [json_text], "files": [file_entry]}}


class PlayAlterSaveImage:
    DESCRIPTION = (
        "Saves images to the output folder as {prefix}_{counter:05}_.png with pixels only: unlike the core "
        "Save Image inside ComfyUI, no workflow, prompt or input file names are embedded. Use it for "
        "anonymised images."
    )
    CATEGORY = "PLAYALTER/io"
    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "the images to save"}),
                "filename_prefix": (
                    "STRING",
                    {"default": "playalter/image", "tooltip": "file name start; may contain a subfolder"},
                ),
            }
        }

    def save(self, images, filename_prefix: str = "playalter/image"):
        return {"ui": {"images": save_pngs(images, "output", filename_prefix)}}


def save_pngs(images, folder_kind: str, filename_prefix: str, pnginfo=None, compress_level: int = 4) -> list[dict]:
    """Each image of an IMAGE batch as a numbered PNG in the ``folder_kind`` folder (metadata only from
    ``pnginfo``); the ComfyUI ``ui`` entries of the saved files."""
    from PIL import Image

    from .tensors import image_batch_to_numpy

    entries = []
    for frame in image_batch_to_numpy(images):  # [H,W,3] uint8
        saved = reserve_numbered_file(compat.folder(folder_kind), filename_prefix, "png")
        Image.fromarray(frame).save(saved.path, format="PNG", pnginfo=pnginfo, compress_level=compress_level)
        entries.append({"filename": saved.filename, "subfolder": saved.subfolder, "type": folder_kind})
    return entries


NODE_CLASS_MAPPINGS = {"PlayAlterSaveJSON": PlayAlterSaveJSON, "PlayAlterSaveImage": PlayAlterSaveImage}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PlayAlterSaveJSON": "Save JSON (PLAYALTER)",
    "PlayAlterSaveImage": "Save Image, pixels only (PLAYALTER)",
}
