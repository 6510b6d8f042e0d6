"""``swap_video``: one source identity onto chosen tracked faces of every frame, streamed.

The source identity (ArcFace embedding, or the source photo for the classical warp) and the method are
fixed once, before the first frame, so every frame gets the same identity. Faces are chosen by track, not
by their order in a frame: ``tracks="all"`` or ``"0,2"`` (tracks are numbered in order of appearance), so
a chosen person stays swapped however faces reorder. With a ``reference`` (photos or saved identities of the
person to replace), the tracks of that person are swapped instead (``people.py``: each track is judged on
its first frames). Frames where a chosen track is held (the detector lost it for a moment) are swapped at
the predicted place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..core.errors import NoFaceError
from ..engine.face import Face
from ..engine.reference import Reference
from ..engine.selection import parse_indices
from ..swap.pipeline import Source, SwapOptions, choose_method, load_restorer, load_swapper, swap_one, with_embeddings
from . import stream
from .anonymize import detector
from .options import VideoOptions
from .people import TrackPeople


def swap_video(source: Source, target_video: str | Path, output: str | Path,
               swap_options: SwapOptions = SwapOptions(), video_options: VideoOptions = VideoOptions(),
               progress: stream.Progress | None = None, cancelled: Callable[[], bool] | None = None,
               tracks: str = "all", reference: Reference | None = None) -> dict:
    """Swap ``source`` onto the chosen tracks of ``target_video`` (the reference person's tracks when
    ``reference`` is given), written to ``output``; the report."""
    if source.face is None and source.embedding is None:
        raise NoFaceError("the swap source has no face: use a photo with a clearly visible face")
    chosen = None if tracks.strip().lower() in ("", "all") else set(parse_indices(tracks))
    people = None if reference is None else TrackPeople(reference)
    [source] = with_embeddings([source])
    method, reason = choose_method(swap_options.method, [source], swap_options.swap_model)
    swapper = load_swapper(swap_options.swap_model) if method == "inswapper" else None
    restorer = load_restorer(swap_options)
    detect = detector(video_options, dense=video_options.dense or method == "classical")

    def render(image: np.ndarray, faces: list[Face]) -> tuple[np.ndarray, dict[int, bool]]:
        output = image
        for face in faces:
            if people is not None and not people.is_reference(image, face):
                continue
            if people is None and chosen is not None and face.extra["track_id"] not in chosen:
                continue
            output = swap_one(output, image, face, source, swap_options, swapper, restorer).image
        return output, {}

    report = stream.run(Path(target_video), Path(output), video_options, detect, render, progress, cancelled)
    report["swap"] = {"method": method, "reason": reason, "tracks": "reference" if people else tracks,
                      "source": source.label}
    if restorer is not None:
        report["swap"]["restored"] = {"model": swap_options.restore.model, "strength": swap_options.restore.strength}
    if people is not None:
        report["swap"]["people"] = people.report()
    return report
