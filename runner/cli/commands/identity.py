"""``playalter identity build PHOTO ... --name NAME``: one face identity from several photos of one person;
``playalter identity list``: the identities and ReActor face models found.

build takes the largest face of each photo (or --face N, largest first), embeds it (--identity-model: ArcFace
when buffalo_l is installed, else dlib's descriptor) and saves their normalised mean. Saved identities (.json,
.npz, ReActor's .safetensors) can be given among the photos: each counts as one photo, in its own space.
Photos that are not all one person are refused, naming the ones that differ (each photo against the average
of the others, at the model's same-person distance); --no-check saves them anyway. The file goes into the identities folder as
NAME.json (--format npz, or safetensors: a ReActor face model in ReActor's faces folder), or to --out FILE;
an existing file is never overwritten.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FORMATS = ("json", "npz", "safetensors")


def register(subparsers) -> None:
    from ..reference_args import add_identity_model_argument

    parser = subparsers.add_parser(
        "identity", help="build a face identity from several photos, or list the saved ones",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="average several photos of one person into a saved identity")
    build.add_argument("photos", nargs="+", type=Path,
                       help="JPEG/PNG/BMP/TIFF/WebP photos of one person, or saved identities of them")
    build.add_argument("--name", required=True, help="identity name: letters, digits, '-', '_', '.'")
    build.add_argument("--face", type=int, default=None, help="which face of each photo (largest first; default 0)")
    build.add_argument("--format", choices=FORMATS, default="json",
                       help="json or npz (ours), or safetensors (a ReActor face model; ArcFace only)")
    build.add_argument("--out", type=Path, default=None,
                       help="write this file instead (.json, .npz or .safetensors) of one in the identities folder")
    build.add_argument("--no-check", dest="check", action="store_false",
                       help="save even when the photos do not look like one person")
    add_identity_model_argument(build)
    build.set_defaults(func=run_build)
    listing = actions.add_parser("list", help="the saved identities, then the ReActor face models found")
    listing.set_defaults(func=run_list)


def run_build(args) -> int:
    from ....pipelines.core.errors import InvalidParameterError
    from ....pipelines.engine import embedding, reference
    from ....pipelines.images import load_image
    from ....pipelines.swap import identity

    target = args.out if args.out is not None else identity.path_for(args.name, f".{args.format}")
    if target.exists():
        raise InvalidParameterError(f"{target} already exists: remove it or choose another name")
    saved = {path: identity.load(path) for path in args.photos if path.suffix.lower() in identity.SUFFIXES}
    spaces = {item.space for item in saved.values()}
    if len(spaces) > 1:
        raise InvalidParameterError(f"the identities given are of different models ({', '.join(sorted(spaces))})")
    space = embedding.space_named(spaces.pop()) if spaces else embedding.resolve_space(args.identity_model)
    embeddings = []
    for path in args.photos:
        if path in saved:
            embeddings.append(saved[path].embedding)
            continue
        image = load_image(path)
        embeddings.append(reference.face_embedding(image, reference.chosen_face(image, args.face, what=path.name),
                                                   space))
    built, check = identity.from_photos(embeddings, [path.name for path in args.photos], space, args.name,
                                        check=args.check)
    written = identity.save(built, target)
    sys.stdout.write(json.dumps({"path": str(written), "name": built.name, "space": built.space,
                                 "count": built.count, "check": check}, indent=2) + "\n")
    return 0


def run_list(args) -> int:
    from ....pipelines.swap import identity

    for name in identity.saved_names():
        sys.stdout.write(f"{name}\t{identity.path_for(name)}\n")
    return 0
