"""The one place that talks to ComfyUI services.

Inside ComfyUI it uses ``comfy.utils.ProgressBar``, ``comfy.model_management``
(interrupt) and ``folder_paths``; outside (the runner, tests) it falls back to
a progress callback the runner installs and a cancellation flag.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

from ..pipelines import models

try:  # ComfyUI is importable only when running inside it
    import comfy.model_management as _comfy_mm
    import comfy.utils as _comfy_utils
    import folder_paths as _folder_paths
except ImportError:
    _comfy_mm = None
    _comfy_utils = None
    _folder_paths = None

IN_COMFYUI = _folder_paths is not None

ProgressHook = Callable[[int, int], None]

_local = threading.local()


class InterruptedByUser(Exception):
    """Raised when the user (ComfyUI) or the runner cancelled the current run."""


def set_progress_hook(hook: ProgressHook | None) -> None:
    """Runner side: receive (done, total) updates from the node running on this thread."""
    _local.progress_hook = hook


def set_cancel_event(event: threading.Event | None) -> None:
    """Runner side: an event that, once set, interrupts the node running on this thread."""
    _local.cancel_event = event


class Progress:
    """Progress for one node call over ``total`` steps."""

    def __init__(self, total: int):
        self.total = max(int(total), 1)
        self.done = 0
        self._bar = _comfy_utils.ProgressBar(self.total) if _comfy_utils is not None else None

    def update(self, steps: int = 1) -> None:
        check_interrupted()
        self.done = min(self.done + steps, self.total)
        if self._bar is not None:
            self._bar.update_absolute(self.done, self.total)
        hook = getattr(_local, "progress_hook", None)
        if hook is not None:
            hook(self.done, self.total)


def set_folders(input_dir: str | os.PathLike | None, output_dir: str | os.PathLike | None,
                temp_dir: str | os.PathLike | None = None) -> None:
    """Runner side: the input, output and temp folders of the run on this thread (None: the defaults)."""
    _local.folders = {"input": input_dir, "output": output_dir, "temp": temp_dir}


def folder(kind: str) -> Path:
    """The ``"input"``, ``"output"`` or ``"temp"`` folder: ComfyUI's inside ComfyUI, else the runner's.

    Outside ComfyUI and without folders set by the runner, input and output come
    from settings ``paths.input_dir`` / ``paths.output_dir`` and temp is a folder
    under the system temp directory.
    """
    if _folder_paths is not None:
        getters = {
            "input": _folder_paths.get_input_directory,
            "output": _folder_paths.get_output_directory,
            "temp": _folder_paths.get_temp_directory,
        }
        return Path(getters[kind]())
    chosen = getattr(_local, "folders", {}).get(kind)
    if chosen is not None:
        return Path(chosen)
    if kind == "temp":
        return Path(tempfile.gettempdir()) / "playalter" / "temp"
    from ..pipelines.core.config import settings

    return Path(getattr(settings().paths, f"{kind}_dir"))


def check_interrupted() -> None:
    if _comfy_mm is not None:
        _comfy_mm.throw_exception_if_processing_interrupted()
    event = getattr(_local, "cancel_event", None)
    if event is not None and event.is_set():
        raise InterruptedByUser("the run was cancelled")


def _register_comfy_model_folders() -> None:
    """Search ComfyUI/models/{insightface,flame,mediapipe,dlib,reactor,hyperswap,reswapper,facerestore_models}
    first, then any extra_model_paths.yaml entries (reactor: ReActor's face models, in its faces/ sub-folder;
    hyperswap and reswapper: the 256-px swap models, where ReActor keeps them; facerestore_models: the face
    restoration models, where ReActor and the facerestore nodes keep them)."""
    if _folder_paths is None:
        return
    for kind in ("insightface", "flame", "mediapipe", "dlib", "reactor", "hyperswap", "reswapper",
                 "facerestore_models"):
        _folder_paths.add_model_folder_path(kind, os.path.join(_folder_paths.models_dir, kind), is_default=True)

    def comfy_dirs(kind: str) -> list[str]:
        try:
            return list(_folder_paths.get_folder_paths(kind))
        except KeyError:
            return []

    models.set_host_search_dirs(comfy_dirs)


_register_comfy_model_folders()
