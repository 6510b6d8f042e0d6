"""Is a hidden face still recognisable? The audit's identity step on the identity pair sets, one run.

    python bench/privacy_identity.py [--sets tuning evaluation] [--model auto|dlib|arcface]

The sets (tests/identity_pair_sets.py; docs/privacy.md, "Recognisable?"): the tuning set, on which the
threshold and the strength table's 1.0 are chosen, and the evaluation set, which no choice looked at; no
person is in both. Per set it prints:

  same person     distances of a face to copies of its photo (rescaled, re-compressed, turned, another
                  exposure and maybe mirrored, noisy) and to the same person's other photo: largest and 95th percentile
  different       distances of every two people: smallest and 5th percentile
  rule            the threshold rule: the smallest different-person distance, rounded down to 0.01, and
                  whether every same-person pair lies below it
  per mask type and strength, over the set's faces (each masked alone in its own photo, default coverage):
    recognisable  faces the audit judges recognisable (``self_audit.reidentify``)
    not judged    faces nearer than the threshold whose photo with the head filled is that near too
    rank 1        faces whose output is nearer to their own input than to any other face of the set (the
                  gallery: every other identity's input embedding)
    min distance  the smallest input-to-output distance
  ms per face     the identity step alone (two embeddings, the distances and the rank), median over the set's
                  faces, on this machine's CPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # import playalter from this checkout
sys.path.insert(0, str(ROOT / "tests"))  # the pair sets

import identity_pair_sets as pairs  # noqa: E402
from playalter.pipelines import models  # noqa: E402
from playalter.pipelines.engine import embedding  # noqa: E402
from playalter.pipelines.privacy import PrivacyOptions, anonymize  # noqa: E402
from playalter.pipelines.privacy.choices import MASK_TYPES  # noqa: E402
from playalter.pipelines.privacy.self_audit import reidentify  # noqa: E402

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _pair_distances(split: str, space: embedding.EmbeddingSpace) -> None:
    cache: dict[int, np.ndarray] = {}

    def of(source: pairs.SourceFace) -> np.ndarray:
        if id(source) not in cache:
            cache[id(source)] = embedding.embed(source.photo, source.face, space)
        return cache[id(source)]

    same = [(embedding.distance(of(source), embedding.embed(copy.photo, copy.face, space), space),
             f"{source.identity}, {copy.change}") for source, copy in pairs.same_person_pairs(split)]
    different = [(embedding.distance(of(first), of(second), space), f"{first.identity} / {second.identity}")
                 for first, second in pairs.different_person_pairs(split)]
    same_values, different_values = [value for value, _ in same], [value for value, _ in different]
    print(f"  same person: {len(same)} pairs, largest {max(same)[0]:.3f} ({max(same)[1]}), "
          f"95th percentile {np.percentile(same_values, 95):.3f}")
    print(f"  different: {len(different)} pairs, smallest {min(different)[0]:.3f} ({min(different)[1]}), "
          f"5th percentile {np.percentile(different_values, 5):.3f}")
    rule = np.floor(min(different_values) * 100) / 100
    print(f"  rule: threshold {rule:.2f} (the space's: {space.same_person_distance}); every same-person pair "
          f"below it: {max(same_values) < rule}")


def _masked(split: str, space: embedding.EmbeddingSpace) -> None:
    faces = pairs.source_faces(split)
    inputs = [embedding.embed(source.photo, source.face, space) for source in faces]  # N x (D,)
    types = [name for name in MASK_TYPES if name != "synthetic" or models.is_available("inswapper_128")]
    if "synthetic" not in types:
        print("  synthetic: not measured (inswapper_128.onnx is absent)")
    timings = []
    print("  type       strength  recognisable  not judged  rank 1  min distance")
    for mask_type in types:
        for strength in STRENGTHS:
            recognisable = not_judged = first = 0
            nearest = []
            for index, source in enumerate(faces):
                output = anonymize(source.photo, [source.face], PrivacyOptions(mask_type, strength=strength)).image
                gallery = tuple(vector for other, vector in zip(faces, inputs) if other.identity != source.identity)
                started = time.perf_counter()
                [entry] = reidentify(source.photo, [source.face], output, space, gallery)
                timings.append(time.perf_counter() - started)
                recognisable += entry["recognisable"] is True
                not_judged += entry["recognisable"] is None
                first += entry["identity_rank"] == 1
                nearest.append(entry["identity_distance"])
            print(f"  {mask_type:<10} {strength:<9} {recognisable:>3}/{len(faces):<9} {not_judged:>3}"
                  f"{first:>12}  {min(nearest):.3f}")
    print(f"  identity step: {1000 * statistics.median(timings):.0f} ms per face (median of {len(timings)}; "
          "two embeddings, distances, rank)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["tuning", "evaluation"], choices=["tuning", "evaluation"])
    parser.add_argument("--model", default="auto", choices=embedding.PREFERENCES)
    args = parser.parse_args()
    space = embedding.resolve_space(args.model)
    print(f"identity model: {space.name}; fixtures: {pairs.evaluation.has_fixtures()}")
    for split in args.sets:
        print(f"{split} set: {len(pairs.source_faces(split))} faces, "
              f"{len({source.identity for source in pairs.source_faces(split)})} people")
        _pair_distances(split, space)
        _masked(split, space)


if __name__ == "__main__":
    main()
