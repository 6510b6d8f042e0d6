"""Executor overhead per workflow run, against calling the same functions directly in this process.

    python bench/executor.py [--runs 30] [--image PATH]

Columns: the median of the direct calls, of the executor runs, their difference, and "own ms": the
executor's time outside node functions, measured inside each run (node calls timed and subtracted),
which stays exact when a busy machine makes the difference of two medians noisy.

Scenarios (median over runs; goal: overhead <= 5 ms per run):
- load+save: LoadImage (bound bytes) -> SaveImage, vs the same node functions called in a row
  (pipelines.images.load_image, PNG write);
- detect: LoadImage -> PlayAlterFaceDetect -> SaveJSON, vs the same node functions called in a row
  (only when the pack has PlayAlterFaceDetect);
- chain-20: twenty trivial nodes in a row, vs twenty direct calls (pure bookkeeping cost).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playalter.runner.engine import executor as executor_module


def paired_median_ms(
    direct: Callable[[], object], executed: Callable[[], object], runs: int
) -> tuple[float, float, float]:
    """(direct, executed, executor's own) median ms; timed alternately, order swapped every run."""
    direct(), executed()  # warm-up: imports, model sessions, caches
    in_nodes: list[float] = []
    map_over_lists = executor_module._map_over_lists

    def timed_map_over_lists(node_class, arguments):
        started = time.perf_counter()
        try:
            return map_over_lists(node_class, arguments)
        finally:
            in_nodes.append(time.perf_counter() - started)

    samples: tuple[list[float], list[float], list[float]] = ([], [], [])
    executor_module._map_over_lists = timed_map_over_lists
    try:
        for run in range(runs):
            for function in (direct, executed) if run % 2 == 0 else (executed, direct):
                in_nodes.clear()
                started = time.perf_counter()
                function()
                elapsed = time.perf_counter() - started
                if function is direct:
                    samples[0].append(elapsed * 1000.0)
                else:
                    samples[1].append(elapsed * 1000.0)
                    samples[2].append((elapsed - sum(in_nodes)) * 1000.0)
    finally:
        executor_module._map_over_lists = map_over_lists
    return tuple(statistics.median(times) for times in samples)


class Increment:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True})}}

    def run(self, value):
        return (value + 1,)


class Start(Increment):
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0, "min": 0, "max": 10})}}


class End:
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True})}}

    def run(self, value):
        return {"ui": {"text": [str(value)]}}


def chain_scenario(runs: int) -> tuple[float, float, float]:
    from playalter.runner.engine.executor import execute

    length = 20
    prompt = {"0": {"class_type": "Start", "inputs": {"value": 0}}}
    for index in range(1, length):
        prompt[str(index)] = {"class_type": "Increment", "inputs": {"value": [str(index - 1), 0]}}
    prompt["end"] = {"class_type": "End", "inputs": {"value": [str(length - 1), 0]}}
    classes = {"Start": Start, "Increment": Increment, "End": End}

    def direct():
        value = Start().run(0)[0]
        for _ in range(1, length):
            value = Increment().run(value)[0]
        return End().run(value)

    return paired_median_ms(direct, lambda: execute(prompt, node_classes=classes), runs)


def load_save_scenario(image_bytes: bytes, out: Path, runs: int) -> tuple[float, float, float]:
    from playalter.nodes import compat
    from playalter.runner.engine.core_nodes import LoadImage, SaveImage, set_injected_images
    from playalter.runner.engine.executor import execute

    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}, "_meta": {"title": "image"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "bench"}},
    }

    def direct():
        set_injected_images({"x.png": image_bytes})
        compat.set_folders(None, out)
        image, _ = LoadImage().load_image("x.png")
        SaveImage().save_images(image, "bench", prompt=prompt)
        compat.set_folders(None, None)

    return paired_median_ms(direct, lambda: execute(prompt, bindings={"image": image_bytes}, output_dir=out), runs)


def detect_scenario(image_bytes: bytes, out: Path, runs: int) -> tuple[float, float, float] | None:
    from playalter.runner.engine.core_nodes import LoadImage, set_injected_images
    from playalter.runner.engine.executor import execute
    from playalter.runner.engine.registry import default_node_classes

    classes = default_node_classes()
    detect_class = classes.get("PlayAlterFaceDetect")
    if detect_class is None:
        return None
    detect_inputs = {
        name: spec[1].get("default")
        for name, spec in detect_class.INPUT_TYPES()["required"].items()
        if name != "image" and len(spec) > 1 and isinstance(spec[1], dict) and "default" in spec[1]
    }
    json_slot = list(detect_class.RETURN_TYPES).index("STRING")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}, "_meta": {"title": "image"}},
        "2": {"class_type": "PlayAlterFaceDetect", "inputs": {"image": ["1", 0], **detect_inputs}},
        "3": {"class_type": "PlayAlterSaveJSON", "inputs": {"json_text": ["2", json_slot], "filename_prefix": "bench"}},
    }
    from playalter.nodes import compat

    def direct():
        set_injected_images({"x.png": image_bytes})
        compat.set_folders(None, out)
        image, _ = LoadImage().load_image("x.png")
        detected = getattr(detect_class(), detect_class.FUNCTION)(image=image, **detect_inputs)
        classes["PlayAlterSaveJSON"]().save(detected[json_slot], "bench")
        compat.set_folders(None, None)

    return paired_median_ms(direct, lambda: execute(prompt, bindings={"image": image_bytes}, output_dir=out), runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--image", type=Path, default=None, help="photo to use (default: insightface's t1.jpg)")
    args = parser.parse_args()
    image_path = args.image
    if image_path is None:
        import importlib.util

        image_path = Path(importlib.util.find_spec("insightface").origin).parent / "data" / "images" / "t1.jpg"
    image_bytes = image_path.read_bytes()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        rows.append(("chain-20 (trivial nodes)", *chain_scenario(args.runs * 10)))
        rows.append((f"load+save ({image_path.name})", *load_save_scenario(image_bytes, out, args.runs)))
        detect = detect_scenario(image_bytes, out, args.runs)
        if detect is not None:
            rows.append((f"detect ({image_path.name})", *detect))
    print(f"{'scenario':<28} {'direct ms':>10} {'executor ms':>12} {'difference':>11} {'ratio':>7} {'own ms':>8}")
    for name, direct, executed, own in rows:
        difference, ratio = executed - direct, executed / direct
        print(f"{name:<28} {direct:>10.3f} {executed:>12.3f} {difference:>11.3f} {ratio:>7.3f} {own:>8.3f}")
    print("goal: overhead <= 5 ms per run")


if __name__ == "__main__":
    main()
