"""``playalter swap-video SOURCE VIDEO ... --out DIR``: one face onto the people of videos.

The source is a photo (its face --source-face, largest first) or a saved ArcFace identity file (.json / .npz, or
a ReActor face model .safetensors; the learned swap only). It is put onto the chosen tracked faces of every
frame (--tracks: "all" or track numbers in order of appearance, e.g. "0,2"; or --reference: the tracks of the
person in a photo or saved identity file), with the same identity on every frame. The face is blended in as
by the Face Swap node (colour correction, feather or Poisson blend, occluders and the mouth kept, sharpening,
noise reduction; docs/swap.md). Each video becomes <name>_swapped.mp4 (.mkv when its codec or audio does not
fit MP4), streamed with the audio copied and the frame timing and rotation kept; an
existing output is never overwritten. Uses InSwapper when installed, else the landmark warp.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..progress_bar import FrameProgress
from ..reference_args import add_identity_model_argument, reference_from_paths
from ..video_options import add_video_arguments, is_video, output_path, video_options


def register(subparsers) -> None:
    from ....pipelines.swap.blend import BlendOptions
    from ....pipelines.swap.choices import BLEND_MODES, COLOR_MODES, METHODS, OUTPUT_SIZES, RESTORE_MODELS, SWAP_MODELS

    parser = subparsers.add_parser(
        "swap-video", help="put one face onto the tracked faces of videos",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("source", type=Path, help="photo with the face to put in, or a saved identity file "
                                                  "(.json / .npz / ReActor's .safetensors)")
    parser.add_argument("videos", nargs="+", type=Path, help="MP4/MOV/MKV/WebM/AVI videos")
    parser.add_argument("--out", type=Path, required=True, help="folder for <name>_swapped.mp4")
    parser.add_argument("--source-face", type=int, default=0, help="which face of the source photo (largest first)")
    parser.add_argument("--tracks", default="all", help='tracked faces to swap: "all" or e.g. "0,2" (default all)')
    parser.add_argument("--reference", type=Path, action="append", default=[], metavar="PHOTO_OR_IDENTITY",
                        help="swap the tracks of this person instead of --tracks: a photo (its largest face) or a "
                             "saved identity file (.json/.npz); repeat for several people")
    add_identity_model_argument(parser)
    parser.add_argument("--method", choices=METHODS, default="auto", help="inswapper, classical or auto")
    parser.add_argument("--color-correction", choices=COLOR_MODES, default=BlendOptions.color,
                        help=f"colour of the swapped face matched to the target's (default {BlendOptions.color})")
    parser.add_argument("--blend-mode", choices=BLEND_MODES, default=BlendOptions.mode,
                        help=f"how the face is put in (default {BlendOptions.mode})")
    parser.add_argument("--feather", type=float, default=BlendOptions.feather,
                        help=f"edge softness, fraction of the face size 0..1 (default {BlendOptions.feather})")
    parser.add_argument("--no-occlusion", dest="occlusion", action="store_false",
                        help="paste over hands, hair and objects in front of the face instead of keeping them")
    parser.add_argument("--no-mouth", dest="mouth", action="store_false",
                        help="swap the mouth interior too instead of keeping the target's")
    parser.add_argument("--sharpen", type=float, default=BlendOptions.sharpen,
                        help=f"sharpening of the swapped face 0..1 (default {BlendOptions.sharpen})")
    parser.add_argument("--denoise", type=float, default=BlendOptions.denoise,
                        help=f"noise reduction of the swapped face 0..1 (default {BlendOptions.denoise})")
    parser.add_argument("--swap-model", choices=SWAP_MODELS, default="auto",
                        help="the learned swap model (default auto: the first installed of HyperSwap 1a/1b/1c, "
                             "ReSwapper 256, InSwapper 128)")
    parser.add_argument("--output-size", type=int, choices=OUTPUT_SIZES, default=128,
                        help="side of the swapped face; above the model's own size: pixel boost (default 128)")
    parser.add_argument("--swap-weight", type=float, default=1.0,
                        help="1: the source's identity; lower blends in the target's own, 0..1 (default 1)")
    parser.add_argument("--restore-model", choices=("none", *RESTORE_MODELS), default="none",
                        help="restore each swapped face with this model from facerestore_models/ (default none)")
    parser.add_argument("--restore-strength", type=float, default=1.0,
                        help="0: unrestored, 1: fully restored (default 1)")
    parser.add_argument("--codeformer-fidelity", type=float, default=0.5,
                        help="CodeFormer's w: 0 the most restoration, 1 the closest to the swapped face (default 0.5)")
    parser.add_argument("--report", action="store_true", help="write <name>_swap.json with the per-track report")
    add_video_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ....pipelines.engine.detection import detect_faces
    from ....pipelines.core.errors import ImageValidationError, NoFaceError
    from ....pipelines.images import load_image
    from ....pipelines.swap import identity
    from ....pipelines.swap.pipeline import Source, source_of_identity
    from ....pipelines.swap.request import swap_request
    from ....pipelines.video import swap_video
    from ...engine.output_names import distinct_stems, write_new

    for path in args.videos:
        if not is_video(path):
            raise ImageValidationError(f"{path.name} is not a video (mp4, mov, mkv, webm, avi)")
    options = swap_request(vars(args))  # the flags' destinations are the builder's names
    video = video_options(args)
    if args.source.suffix.lower() in identity.SUFFIXES:
        source = source_of_identity(identity.load(args.source))
    else:
        image = load_image(args.source)
        faces = detect_faces(image)
        if not 0 <= args.source_face < len(faces):
            raise NoFaceError(
                f"the source photo has {len(faces)} face(s); --source-face {args.source_face} does not exist")
        source = Source(image, faces[args.source_face], None, f"{args.source.name} face {args.source_face}")
    reference = reference_from_paths(args.reference, args.identity_model) if args.reference else None
    args.out.mkdir(parents=True, exist_ok=True)
    for path, stem in zip(args.videos, distinct_stems(args.videos)):
        output = output_path(args.out, f"{stem}_swapped", path, video.codec)
        bar = FrameProgress(path.name)
        try:
            report = swap_video(source, path, output, options, video, progress=bar, tracks=args.tracks,
                                reference=reference)
        finally:
            bar.close()
        line = (f"{path}: {report['frames']} frames, {len(report['tracks'])} face track(s), "
                f"{report['swap']['method']} ({report['fps']} fps, audio {report['audio']}) -> {output}")
        if args.report:
            written = write_new(args.out / f"{stem}_swap.json", json.dumps(report, indent=2).encode("utf-8"))
            line += f", report -> {written}"
        sys.stdout.write(line + "\n")
    return 0
