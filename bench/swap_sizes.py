"""Per-face swap latency on the CPU at each output size (128, 256, 512): InSwapper 128 with pixel boost and
the 256-px models' path, on generated stand-in models (tests/swap_models.py).

The stand-ins have the real models' signatures but almost no arithmetic, so the figures are the swap's own
cost around the network: alignment at the output size, the pixel-boost split and join, the value-range
conversions, one session call per sub-image, the paste-back and the blend. A real model adds its own time
per call: 1 call at the model's size, 4 at twice it, 16 at four times (the "model calls" column).

Each configuration runs in its own process (fresh sessions and caches); medians of --repeats runs after
one warm-up, and the best run (the steadier figure on a shared machine). Face: the largest of t1.jpg
scaled onto a 1920x1080 frame (as bench/swap.py).

Run: python bench/swap_sizes.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGURATIONS = [("inswapper_128", 128), ("inswapper_128", 256), ("inswapper_128", 512),
                  ("hyperswap_1a_256", 256), ("hyperswap_1a_256", 512), ("reswapper_256", 256)]


def measure(model: str, output_size: int, repeats: int) -> dict:
    """One configuration, in this process: ms per face for the swap alone and with the default blend."""
    sys.path.insert(0, str(ROOT / "tests"))  # the stand-in builders live with the tests
    sys.path.insert(0, str(ROOT / "bench"))
    import numpy as np

    from playalter.pipelines.engine.detection import detect_faces
    from playalter.pipelines.swap import inswapper, pixel_boost
    from playalter.pipelines.swap.blend import BlendOptions, blend
    from swap import full_hd_frame, timed_ms
    from swap_models import STAND_INS, build_swapper

    frame = full_hd_frame()  # [1080,1920,3]
    target = detect_faces(frame, order="largest")[0]
    embedding = np.random.default_rng(0).normal(size=512).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{model}.onnx"
        build_swapper(path, **STAND_INS[model][1])
        swapper = inswapper.load(path, device="cpu", model=model)
        swap_only = timed_ms(lambda: inswapper.swap(swapper, frame, target, embedding, output_size), repeats)
        with_blend = timed_ms(lambda: blend(frame, inswapper.swap(swapper, frame, target, embedding, output_size),
                                             target, BlendOptions()), repeats)
    side = inswapper.output_side(swapper, output_size)
    return {"model": model, "output_size": side, "model_calls": pixel_boost.factor(side, swapper.contract.size) ** 2,
            "face_px": round(float(target.size)), "swap_ms": swap_only, "swap_and_blend_ms": with_blend}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.repeats)))
        return
    rows = []
    for model, size in CONFIGURATIONS:
        child = subprocess.run([sys.executable, __file__, "--one", model, str(size), "--repeats", str(args.repeats)],
                               capture_output=True, text=True, check=True)
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(f"1920x1080 frame, target face {rows[0]['face_px']} px, CPU, medians of {args.repeats} runs; ms per face")
    print(f"{'model':18s} {'output':>6s} {'model calls':>11s} {'swap median':>12s} {'(best)':>7s} "
          f"{'swap+blend median':>18s} {'(best)':>7s}")
    for row in rows:
        (swap_median, swap_best), (both_median, both_best) = row["swap_ms"], row["swap_and_blend_ms"]
        print(f"{row['model']:18s} {row['output_size']:6d} {row['model_calls']:11d} {swap_median:12.2f} "
              f"{swap_best:7.2f} {both_median:18.2f} {both_best:7.2f}")


if __name__ == "__main__":
    main()
