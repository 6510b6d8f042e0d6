"""``playalter detect [PHOTO ...] --out DIR``: find faces, write an annotated preview PNG and a JSON file per photo.

With no photo it uses insightface's sample group photo ``t1.jpg`` (``pip install --no-deps
insightface`` ships it; no model download is needed: the embedded CenterFace detector runs
when buffalo_l is absent).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    from ....pipelines.core.choices import BACKENDS, ORDERS

    parser = subparsers.add_parser(
        "detect", help="detect faces in photos; write annotated previews and JSON",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("photos", nargs="*", type=Path, help="JPEG/PNG/BMP/TIFF/WebP files (default: the sample t1.jpg)")
    parser.add_argument("--out", type=Path, required=True, help="folder for <name>_faces.png and <name>_faces.json "
                        "(photos that share a name get their extension added: photo_bmp_faces.png)")
    parser.add_argument("--backend", choices=BACKENDS, default=None, help="detector (default: settings, 'auto')")
    parser.add_argument("--threshold", type=float, default=None, help="detector confidence 0..1 (default 0.5)")
    parser.add_argument("--max-side", type=int, default=None,
                        help="longest side the detector sees in one pass (default 1280; 0 = full resolution)")
    parser.add_argument("--order", choices=ORDERS, default="largest", help="how faces are numbered")
    parser.set_defaults(func=run)


def sample_photo() -> Path:
    """insightface's bundled group photo (six people at a table)."""
    from ....pipelines.core.errors import InvalidParameterError

    spec = importlib.util.find_spec("insightface")
    path = Path(spec.origin).parent / "data" / "images" / "t1.jpg" if spec and spec.origin else None
    if path is None or not path.is_file():
        raise InvalidParameterError(
            "no photo given, and the sample photo is not installed: "
            "run 'pip install --no-deps insightface' or pass the path of a photo"
        )
    return path


def run(args) -> int:
    from ....pipelines.core.config import settings
    from ....pipelines.engine.detection import detect_faces
    from ....pipelines.engine.draw import draw_faces
    from ....pipelines.images import encode_png, load_image
    from ...engine.output_names import distinct_stems

    detection = settings().detection
    options = {
        "backend": args.backend or detection.backend,
        "threshold": args.threshold if args.threshold is not None else detection.threshold,
        "max_side": args.max_side if args.max_side is not None else detection.max_input_side,
        "order": args.order,
    }
    photos = args.photos or [sample_photo()]
    args.out.mkdir(parents=True, exist_ok=True)
    for photo, stem in zip(photos, distinct_stems(photos)):
        image = load_image(photo)  # uint8 [H,W,3] RGB, validated
        faces = detect_faces(image, **options)
        preview_path = args.out / f"{stem}_faces.png"
        json_path = args.out / f"{stem}_faces.json"
        preview_path.write_bytes(encode_png(draw_faces(image, faces)))
        report = {"image": str(photo), "width": image.shape[1], "height": image.shape[0],
                  "detector": faces[0].detector if faces else None, "face_count": len(faces),
                  "faces": [face.to_dict() for face in faces]}
        json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
        sys.stdout.write(f"{photo}: {len(faces)} face(s) -> {preview_path}, {json_path}\n")
    return 0
