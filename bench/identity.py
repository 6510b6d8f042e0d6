"""Milliseconds per face of the identity models on the CPU: one embedding (alignment included), and a
face-by-reference choice over a group photo.

    python bench/identity.py [--repeats N] [--model dlib|arcface|all]

Photo: insightface's t1.jpg (1280 x 886, six faces, 80-110 px wide), faces found once with CenterFace.
  embed            ``embedding.embed`` per face (dlib: 5-point shape predictor, 150 px chip, ResNet; ArcFace:
                   5-point alignment to 112 px, w600k_r50), median over faces x repeats; the first call (model
                   load) is timed apart
  choose by ref    ``reference.acted_on`` for the whole photo (every face embedded and compared with one
                   reference person), divided by the faces
ArcFace runs only where buffalo_l is installed; dlib where dlib and the identity model are.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import cv2

from playalter.pipelines import models
from playalter.pipelines.engine import embedding, reference
from playalter.pipelines.engine.detection import detect_faces
from playalter.pipelines.models import buffalo


def t1_photo():
    package = Path(importlib.util.find_spec("insightface").origin).parent
    return cv2.cvtColor(cv2.imread(str(package / "data" / "images" / "t1.jpg")), cv2.COLOR_BGR2RGB)


def spaces(choice: str) -> list[embedding.EmbeddingSpace]:
    wanted = {"dlib": [embedding.DLIB], "arcface": [embedding.ARCFACE],
              "all": [embedding.DLIB, embedding.ARCFACE]}[choice]
    usable = []
    for space in wanted:
        if space == embedding.ARCFACE and not buffalo.is_available():
            print(f"{space.name}: skipped (buffalo_l is not installed)")
        elif space == embedding.DLIB and (importlib.util.find_spec("dlib") is None
                                          or not models.is_available("identity")):
            print(f"{space.name}: skipped (pip install dlib-bin; playalter models fetch identity)")
        else:
            usable.append(space)
    return usable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", choices=("dlib", "arcface", "all"), default="all")
    args = parser.parse_args()
    image = t1_photo()
    faces = detect_faces(image, backend="centerface")
    print(f"t1.jpg {image.shape[1]}x{image.shape[0]}, {len(faces)} faces, "
          f"box widths {min(face.width for face in faces):.0f}-{max(face.width for face in faces):.0f} px")
    for space in spaces(args.model):
        started = time.perf_counter()
        embedding.embed(image, faces[0], space)
        first = time.perf_counter() - started
        times = []
        for _ in range(args.repeats):
            for face in faces:
                started = time.perf_counter()
                embedding.embed(image, face, space)
                times.append(time.perf_counter() - started)
        person = reference.Reference(space, (embedding.embed(image, faces[2], space),), ("face 2",))
        choices = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            reference.acted_on(image, faces, person, "everyone_except")
            choices.append((time.perf_counter() - started) / len(faces))
        print(f"{space.name}: first call {first * 1000:.0f} ms (model load); embed "
              f"{statistics.median(times) * 1000:.1f} ms per face (median of {len(times)}, min "
              f"{min(times) * 1000:.1f}); choose by reference "
              f"{statistics.median(choices) * 1000:.1f} ms per face")


if __name__ == "__main__":
    main()
