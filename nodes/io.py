"""Saving outputs as files: JSON STRING outputs (measurements, audits, reports) and images with pixels only."""

from __future__ import annotations

import json

from ..pipelines.core.errors import InvalidParameterError
from . import compat
from .files import reserve_numbered_file, write_whole


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
        except json.JSONDecodeError as error:
            raise InvalidParameterError(f"json_text is not valid JSON (line {error.lineno}, column {error.colno}); "
                                        "connect a JSON output") from None
        except (TypeError, ValueError):
            raise InvalidParameterError("json_text is not valid JSON; connect a JSON output") from None
        saved = reserve_numbered_file(compat.folder("output"), filename_prefix, "json")
        write_whole(saved, lambda handle: handle.write(json_text.encode("utf-8")))
        file_entry = {"filename": saved.filename, "subfolder": saved.subfolder, "type": "output"}
        return {"ui": {"json": [json_text], "files": [file_entry]}}


class PlayAlterSaveImage:
    """The pack's one PNG writer; the runner's ComfyUI core SaveImage and PreviewImage are built on it."""

    DESCRIPTION = (
        "Saves images to the output folder as {prefix}_{counter:05}_.png with pixels only: unlike the core "
        "Save Image inside ComfyUI, no workflow, prompt or input file names are embedded. Use it for "
        "anonymised images."
    )
    CATEGORY = "PLAYALTER/io"
    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    default_prefix = "playalter/image"
    folder_kind = "output"
    compress_level = 4

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "the images to save"}),
                "filename_prefix": (
                    "STRING",
                    {"default": cls.default_prefix, "tooltip": "file name start; may contain a subfolder"},
                ),
            }
        }

    def save(self, images, filename_prefix: str = "playalter/image"):
        return self.write_pngs(images, filename_prefix)

    def write_pngs(self, images, filename_prefix: str, pnginfo=None) -> dict:
        """Each image of an IMAGE batch as a numbered PNG in this node's folder, with no metadata but
        ``pnginfo``; the ComfyUI result listing the saved files."""
        from PIL import Image

        from .tensors import image_batch_to_numpy

        entries = []
        for frame in image_batch_to_numpy(images):  # [H,W,3] uint8
            saved = reserve_numbered_file(compat.folder(self.folder_kind), filename_prefix, "png")
            write_whole(saved, lambda handle: Image.fromarray(frame).save(
                handle, format="PNG", pnginfo=pnginfo, compress_level=self.compress_level))
            entries.append({"filename": saved.filename, "subfolder": saved.subfolder, "type": self.folder_kind})
        return {"ui": {"images": entries}}


NODE_CLASS_MAPPINGS = {"PlayAlterSaveJSON": PlayAlterSaveJSON, "PlayAlterSaveImage": PlayAlterSaveImage}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PlayAlterSaveJSON": "Save JSON (PLAYALTER)",
    "PlayAlterSaveImage": "Save Image, pixels only (PLAYALTER)",
}
