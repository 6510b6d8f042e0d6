"""How much of the target face's own detail survives the swap's crop and paste-back at each output size.

A stand-in model that returns its input crop unchanged (tests/swap_models.py, mix 0) is swapped onto every
face of the photos in a folder at output 128, 256 and 512 (InSwapper's path, with pixel boost above 128),
with plain blending (no colour correction, feather, occlusion or sharpening). A perfect model could give
back no more detail than this round trip keeps, so its error is the resolution ceiling of each output
size: the mean absolute difference from the original photo inside the face mask, in grey levels 0..255,
grouped by the face's size in the photo.

Run: python bench/swap_round_trip.py FOLDER   (e.g. ../shared/fixtures/faces)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZES = (128, 256, 512)
FACE_BINS = ((0, 128), (128, 256), (256, 512), (512, 100000))  # face size in the photo, pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))  # the stand-in builder lives with the tests
    from playalter.pipelines.engine.detection import detect_faces
    from playalter.pipelines.swap import inswapper
    from playalter.pipelines.swap.blend import BlendOptions, blend
    from swap_models import build_swapper

    plain = BlendOptions(color="none", feather=0.0, occlusion=False, mouth=False, sharpen=0.0)
    errors: dict[tuple[int, int], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    paths = sorted(path for path in args.folder.iterdir() if path.suffix.lower() in (".jpg", ".jpeg", ".png"))
    with tempfile.TemporaryDirectory() as folder:
        build_swapper(Path(folder) / "identity.onnx", mix=0.0)
        swapper = inswapper.load(Path(folder) / "identity.onnx", device="cpu")
        for path in paths:
            image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)  # [H,W,3]
            for face in detect_faces(image):
                face_bin = next(bounds for bounds in FACE_BINS if bounds[0] <= face.size < bounds[1])
                for size in SIZES:
                    result = blend(image, inswapper.swap(swapper, image, face, np.ones(512, np.float32), size),
                                   face, plain)
                    mask = result.mask  # [H,W] the pixels the swap may change
                    errors[face_bin][size].append(float(np.abs(result.image[mask].astype(float) - image[mask]).mean()))
    print(f"{len(paths)} photos from {args.folder}; mean absolute error inside the face mask, grey levels")
    print(f"{'face size px':>14s} {'faces':>6s} " + " ".join(f"{f'output {size}':>11s}" for size in SIZES))
    for face_bin in FACE_BINS:
        if face_bin in errors:
            by_size = errors[face_bin]
            label = f"{face_bin[0]}-{face_bin[1]}" if face_bin[1] < FACE_BINS[-1][1] else f"{face_bin[0]}+"
            print(f"{label:>14s} {len(by_size[SIZES[0]]):6d} "
                  + " ".join(f"{np.mean(by_size[size]):11.2f}" for size in SIZES))


if __name__ == "__main__":
    main()
