"""``playalter anonymize PHOTO ... --out DIR``: hide every face, write a metadata-free PNG per photo.

Works with no downloaded model (the embedded CenterFace detector). Each output is
<name>_anonymized.png (photos that share a name get their extension added: photo_bmp_anonymized.png) (pixels only: no EXIF, GPS or XMP); --audit also detects again on
the result and writes <name>_privacy.json; --auto-strengthen masks re-detected faces
harder until none is found. Exit code 3 when an audited face is still detectable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    from ...pipelines.privacy.choices import COVERAGES, MASK_TYPES

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
    parser.add_argument("--threshold", type=float, default=None, help="detector confidence 0..1 (default 0.5)")
    parser.add_argument("--max-side", type=int, default=None,
                        help="longest side the detector sees in one pass (default 1280; 0 = full resolution)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ...pipelines.config import settings
    from ...pipelines.detection import detect_faces
    from ...pipelines.images import encode_png, load_image
    from ...pipelines.privacy import AuditSettings, PrivacyOptions, protect
    from ..output_names import distinct_stems

    options = PrivacyOptions(args.mask_type, strength=args.strength, coverage=args.coverage, feather=args.feather,
                             seed=args.seed, color=args.color)
    detection = settings().detection
    threshold = args.threshold if args.threshold is not None else detection.threshold
    max_side = args.max_side if args.max_side is not None else detection.max_input_side
    audit = args.audit or args.auto_strengthen
    args.out.mkdir(parents=True, exist_ok=True)
    exposed = 0
    for photo, stem in zip(args.photos, distinct_stems(args.photos)):
        image = load_image(photo)  # uint8 [H,W,3] RGB, validated
        faces = detect_faces(image, threshold=threshold, max_side=max_side, dense="mesh")
        result = protect(image, faces, options, run_audit=audit, auto_strengthen=args.auto_strengthen,
                         audit_settings=AuditSettings(threshold=threshold, max_side=max_side))
        output = args.out / f"{stem}_anonymized.png"
        output.write_bytes(encode_png(result.image))  # pixels only: no EXIF/GPS/XMP
        line = f"{photo}: {len(faces)} face(s) hidden -> {output}"
        if audit:
            report_path = args.out / f"{stem}_privacy.json"
            report_path.write_text(json.dumps({"image": str(photo), **result.report}, indent=2), encoding="utf-8")
            still = result.report["audit"]["still_detected"]
            exposed += still
            line += f", audit: {still} still detectable -> {report_path}"
        sys.stdout.write(line + "\n")
    return 3 if exposed else 0
