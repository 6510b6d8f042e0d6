"""Video anonymisation against the deface CLI's video mode, same files, same run; peak memory by length.

    python bench/video.py [--seconds 6] [--sizes 1280x720 1920x1080] [--memory-minutes 1 3]
                          [--memory-size 640x360] [--detect-every 1]

Clips are made here from insightface's t1.jpg (six faces): a slow pan and zoom over the photo with faces
entering and leaving at the edges, 25 fps, H.264, no audio (tests/video_clips.py frames, streamed).

Speed: ``deface CLIP -o OUT`` (its CLI entry point, its defaults: CenterFace at full resolution, threshold 0.2, blurred
ellipses, imageio-ffmpeg for reading and writing) against ``playalter.pipelines.video.anonymize_video``
(blur, defaults: the recall-first privacy detection, every pass on every third frame and the
smallest overview between, tracking, look-ahead, audio copied), each in its own process; frames per
second = frames / wall time of that process, start-up included. Recall: MTCNN (facenet-pytorch, a
different family from both; tests/mtcnn_judge.py) runs on every --recall-every-th input frame; a face
(probability >= 0.9) counts as hidden when MTCNN no longer finds it (IoU >= 0.3) in the output.

Memory: peak resident set size (VmHWM of the child process) of anonymize_video on a clip of each
length in --memory-minutes, at --memory-size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # import playalter from this checkout
sys.path.insert(0, str(ROOT / "tests"))

from mtcnn_judge import MtcnnJudge
from video_clips import read_frames, window  # noqa: E402

import playalter  # noqa: E402

CHILD_PATH = str(Path(playalter.__file__).parent.parent)  # where the children import playalter from

PEAK = """
import re
print("peak_kib", re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
"""
OURS = """
import json, sys
from pathlib import Path
from playalter.pipelines.privacy import PrivacyOptions
from playalter.pipelines.video import VideoOptions, anonymize_video
report = anonymize_video(Path(sys.argv[1]), Path(sys.argv[2]), PrivacyOptions("blur"),
                         VideoOptions(detect_every=int(sys.argv[3])))
print(json.dumps({"frames": report["frames"], "tracks": len(report["tracks"])}))
""" + PEAK
DEFACE = """
import sys
from deface.deface import main
sys.argv = ["deface", sys.argv[1], "-o", sys.argv[2]]
main()
""" + PEAK


def t1_photo() -> np.ndarray:
    import cv2
    import insightface

    bgr = cv2.imread(str(Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def make_clip(path: Path, photo: np.ndarray, size: tuple[int, int], frames: int) -> Path:
    """A pan and zoom over ``photo``, written frame by frame (never the whole clip in memory)."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25, options={"preset": "veryfast"})
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(frames):
            image = window(photo, (0.3 + 0.4 * _wave(index), 0.45), 1.2 + 0.5 * _wave(index * 0.7), size)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    return path


def _wave(index: float) -> float:
    """0..1..0 over 200 frames."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * index / 200)


def run_child(code: str, *arguments: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of ``code`` in a fresh Python process. The peak is the child's
    own VmHWM (ru_maxrss would carry this process's size over through fork and exec)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": CHILD_PATH})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    peak = int(lines[-1].split()[1]) / 1024
    return wall, peak, "\n".join(lines[:-1])


def recall(detector: MtcnnJudge, source: Path, output: Path, every: int) -> tuple[int, int]:
    """(faces MTCNN finds in every ``every``-th input frame, of those it still finds in the output)."""
    inputs, _, _ = read_frames(source)
    outputs, _, _ = read_frames(output)
    total = found = 0
    for index in range(0, min(len(inputs), len(outputs)), every):
        before = detector.boxes(inputs[index])
        total += len(before)
        found += len(detector.still_found(before, outputs[index]))
    return total, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--sizes", nargs="*", default=["1280x720", "1920x1080"])
    parser.add_argument("--memory-minutes", type=float, nargs="*", default=[1.0, 3.0])
    parser.add_argument("--memory-size", default="640x360")
    parser.add_argument("--detect-every", type=int, default=1)
    parser.add_argument("--recall-every", type=int, default=10, help="judge every n-th frame (default 10)")
    args = parser.parse_args()
    photo = t1_photo()
    detector = MtcnnJudge()
    with tempfile.TemporaryDirectory(prefix="bench-video-") as folder:
        folder = Path(folder)
        print(f"{'clip':<16} {'pipeline':<28} {'frames':>6} {'wall s':>7} {'fps':>6} {'peak MiB':>8} "
              f"{'recall':>12} {'speed-up':>8}")
        for text in args.sizes:
            size = tuple(int(value) for value in text.split("x"))
            frames = int(args.seconds * 25)
            clip = make_clip(folder / f"clip_{text}.mp4", photo, size, frames)
            theirs = folder / f"deface_{text}.mp4"
            ours = folder / f"ours_{text}.mp4"
            base_wall, base_rss, _ = run_child(DEFACE, str(clip), str(theirs))
            wall, rss, _ = run_child(OURS, str(clip), str(ours), str(args.detect_every))
            for name, output, seconds, peak in (("deface (CLI defaults)", theirs, base_wall, base_rss),
                                                (f"playalter (detect_every {args.detect_every})", ours, wall, rss)):
                total, still = recall(detector, clip, output, args.recall_every)
                hidden = f"{total - still}/{total}"
                print(f"{text:<16} {name:<28} {frames:>6} {seconds:>7.1f} {frames / seconds:>6.2f} {peak:>8.0f} "
                      f"{hidden:>12} {base_wall / seconds:>7.2f}x")
        size = tuple(int(value) for value in args.memory_size.split("x"))
        for minutes in args.memory_minutes:
            frames = int(minutes * 60 * 25)
            clip = make_clip(folder / f"long_{minutes}.mp4", photo, size, frames)
            wall, rss, output = run_child(OURS, str(clip), str(folder / "long_out.mp4"), str(args.detect_every))
            print(f"memory {args.memory_size} {minutes:g} min: {frames} frames, {wall:.0f} s, "
                  f"{frames / wall:.1f} fps, peak RSS {rss:.0f} MiB {json.loads(output)}")
            (folder / "long_out.mp4").unlink()
            clip.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
