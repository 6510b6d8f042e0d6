"""``playalter analyze PHOTO ... --out DIR [--scale S]``: measure every face in mm; a JSON report and a
measurement sheet (PNG: each distance drawn as a calliper, valid green, flagged orange) per photo.

Faces get MediaPipe's dense mesh and are measured on it in 3D (``docs/measurements.md``). The scale is
the iris diameter unless --scale names a reference: ``card`` (an ID-1 bank card, 85.60 x 53.98 mm, held
flat beside the face), or JSON ``{"ipd_mm": 63.5}``, ``{"mm_per_px": 0.21}``,
``{"segment": [[x0, y0], [x1, y1]], "length_mm": 85.6}``. A card that is not found or too slanted
falls back to the iris; the warning is printed and kept in the report.

With --fuse, the photos (and video files, sampled at --frames frames) are one person: each is measured,
then every measurement is fused into one value with its spread and the number of frames used
(``docs/measurements.md``, fusion); photos of different people are refused. One fused_analysis.json and
one fused_sheet.png (the fused values drawn on the reference frame) are written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze", help="measure faces in mm (dense mesh); write a JSON report and a measurement sheet per photo",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("photos", nargs="+", type=Path,
                        help="JPEG/PNG/BMP/TIFF/WebP files; with --fuse also video files (MP4, MOV, MKV, WebM, AVI)")
    parser.add_argument("--out", type=Path, required=True, help="folder for <name>_analysis.json and <name>_sheet.png")
    parser.add_argument("--scale", default="iris",
                        help="iris (default), card, or a JSON object: {\"ipd_mm\": 63.5}, {\"mm_per_px\": 0.21}, "
                             "{\"segment\": [[x0, y0], [x1, y1]], \"length_mm\": 85.6}")
    parser.add_argument("--fuse", action="store_true",
                        help="the photos / videos show one person: fuse their measurements into one report")
    parser.add_argument("--frames", type=int, default=16, help="with --fuse: frames sampled from each video")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ....pipelines.engine.detection import detect_faces
    from ....pipelines.engine.face_report import faces_report
    from ....pipelines.engine.measurement_sheet import draw_measurement_sheet
    from ....pipelines.engine.scale_reference import parse_scale
    from ....pipelines.flame.measurements import measure_landmarks
    from ....pipelines.core.errors import InvalidParameterError
    from ....pipelines.images import encode_png, load_image
    from ....pipelines.video.options import VIDEO_SUFFIXES
    from ...engine.output_names import distinct_stems

    scale = parse_scale(args.scale)  # a bad --scale fails before any photo is read
    args.out.mkdir(parents=True, exist_ok=True)
    if args.fuse:
        return _run_fused(args)
    videos = [photo.name for photo in args.photos if photo.suffix.lower() in VIDEO_SUFFIXES]
    if videos:
        raise InvalidParameterError(f"{videos[0]} is a video: videos are measured with --fuse (one person's frames)")
    for photo, stem in zip(args.photos, distinct_stems(args.photos)):
        image = load_image(photo)  # uint8 [H,W,3] RGB, validated
        faces = detect_faces(image, dense=True)
        measurements = [{"image": 0, "face": index, **measure_landmarks(face, scale, image)}
                        for index, face in enumerate(faces)]
        report = {"image": str(photo), "width": image.shape[1], "height": image.shape[0],
                  **faces_report([faces], measurements)}
        json_path = args.out / f"{stem}_analysis.json"
        json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
        sheet_path = args.out / f"{stem}_sheet.png"
        sheet_path.write_bytes(encode_png(draw_measurement_sheet(image, faces, measurements)))
        sys.stdout.write(f"{photo}: {len(faces)} face(s) -> {json_path}, {sheet_path}\n")
        for index, entry in enumerate(measurements):
            warning = entry.get("scale", {}).get("warning")
            if warning:
                sys.stderr.write(f"warning: {photo} face {index}: {warning}\n")
    return 0


def _run_fused(args) -> int:
    from ....pipelines.core.errors import InvalidParameterError
    from ....pipelines.engine.face_report import face_record
    from ....pipelines.engine.measurement_fusion import Frame, fusable_scale, fuse_frames, photo_frame
    from ....pipelines.engine.measurement_sheet import draw_measurement_sheet
    from ....pipelines.images import encode_png, load_image
    from ....pipelines.video.measurement_frames import measurement_frames
    from ....pipelines.video.options import VIDEO_SUFFIXES

    scale = fusable_scale(args.scale)
    if not 1 <= args.frames <= 64:
        raise InvalidParameterError(f"--frames must be 1-64, not {args.frames}")
    frames = []
    for path in args.photos:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            found, sampled = measurement_frames(path, args.frames)
            frames += [Frame(frame.image, frame.face, f"{path.name} {frame.name}") for frame in found]
            sys.stdout.write(f"{path}: {len(found)} of {sampled} sampled frames show a measurable face\n")
            continue
        frames.append(photo_frame(load_image(path), path.name))  # uint8 [H,W,3] RGB, validated
    fused = fuse_frames(frames, scale)
    reference = next(frame for frame in frames if frame.name == fused["fusion"]["reference_frame"])
    record = face_record(reference.face, 0, measurement=fused)
    report = {"fused": [frame.name for frame in frames], "reference_frame": reference.name, "faces": [record]}
    json_path, sheet_path = args.out / "fused_analysis.json", args.out / "fused_sheet.png"
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    sheet_path.write_bytes(encode_png(draw_measurement_sheet(reference.image, [reference.face], [fused])))
    sys.stdout.write(f"{len(frames)} frame(s) of one person fused -> {json_path}, {sheet_path}\n")
    for warning in fused["scale"].get("warnings", []):
        sys.stderr.write(f"warning: {warning}\n")
    return 0
