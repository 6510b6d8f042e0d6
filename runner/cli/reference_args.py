"""What the commands that pick faces by who they are share: reference photos or saved identity files."""

from __future__ import annotations

from pathlib import Path


def add_identity_model_argument(parser) -> None:
    from ...pipelines.core.choices import IDENTITY_MODELS

    parser.add_argument("--identity-model", choices=IDENTITY_MODELS, default="auto",
                        help="the model that compares faces with the reference: auto (ArcFace when buffalo_l is "
                             "installed, else dlib's descriptor, fetched on first use), arcface or dlib")


def reference_from_paths(paths: list[Path], identity_model: str = "auto"):
    """The people of reference photos (their largest face each) and saved identity files (.json / .npz),
    all in one embedding space: the identities' own, else the one ``identity_model`` resolves to."""
    from ...pipelines.engine import embedding, reference
    from ...pipelines.images import load_image
    from ...pipelines.swap import identity

    saved = [identity.load(path) for path in paths if path.suffix.lower() in identity.SUFFIXES]
    photos = [path for path in paths if path.suffix.lower() not in identity.SUFFIXES]
    people = identity.reference_of(saved) if saved else None
    if not photos:
        return people
    space = people.space if people else embedding.resolve_space(identity_model)
    pictured = reference.from_photos([load_image(path) for path in photos], space,
                                     labels=[path.name for path in photos])
    if people is None:
        return pictured
    return reference.Reference(space, people.embeddings + pictured.embeddings, people.labels + pictured.labels)
