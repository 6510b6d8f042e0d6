"""Face restoration latency on the CPU, ms per face, for each restorer's generated stand-in model
(tests/restore_models.py: the real signature, a network of two element-wise operations), so the figures are
everything but the network itself: alignment, normalisation, the model call, paste-back and blending.

Each model runs in its own process (no session, cache or allocator state carried from one to the next) on
the largest face of insightface's t1.jpg scaled to a 1920x1080 frame; medians and best of --repeats runs.

Run: python bench/restore.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the stand-in model builder lives with the tests
sys.path.insert(0, str(ROOT / "bench"))  # the frame and the timer of bench/swap.py


def measure(name: str, repeats: int) -> dict:
    """One model's stages, in this process."""
    from playalter.pipelines.engine.detection import detect_faces
    from playalter.pipelines.swap.restore import network as networks
    from playalter.pipelines.swap.restore.faces import RestoreOptions, aligned_crop, restore_face
    from restore_models import FILES, build_restorer
    from swap import full_hd_frame, timed_ms

    frame = full_hd_frame()  # [1080,1920,3]
    face = detect_faces(frame, order="largest")[0]
    options = RestoreOptions(name)
    with tempfile.TemporaryDirectory() as folder:
        network = networks.load(name, build_restorer(Path(folder) / FILES[name], name))
        size = network.restorer.size
        crop, _ = aligned_crop(frame, face, size)
        return {
            "model": name, "size": size, "face": round(face.size),
            "total": timed_ms(lambda: restore_face(network, frame, face, options), repeats),
            "align": timed_ms(lambda: aligned_crop(frame, face, size), repeats),
            "network": timed_ms(lambda: networks.run(network, crop), repeats),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--model", help=argparse.SUPPRESS)  # the child process: one model, JSON out
    args = parser.parse_args()
    if args.model:
        print(json.dumps(measure(args.model, args.repeats)))
        return
    from playalter.pipelines.swap.choices import RESTORE_MODELS

    rows = []
    for name in RESTORE_MODELS:
        child = subprocess.run([sys.executable, __file__, "--model", name, "--repeats", str(args.repeats)],
                               check=True, capture_output=True, text=True)
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(f"1920x1080 frame, largest face {rows[0]['face']} px, {args.repeats} runs, one process per model; "
          "ms per face, median / best")
    print(f"{'model':26s} {'crop':>5s} {'whole face':>15s} {'align':>13s} {'model call + (de)normalise':>28s}")
    for row in rows:
        cells = [f"{row[key][0]:7.1f} /{row[key][1]:6.1f}" for key in ("total", "align", "network")]
        print(f"{row['model']:26s} {row['size']:5d} {cells[0]:>15s} {cells[1]:>13s} {cells[2]:>28s}")


if __name__ == "__main__":
    main()
