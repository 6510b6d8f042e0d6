"""Face analysis cost: dense landmarks + metric mesh + measurements per face, against the 5-keypoint path.

    python bench/analysis.py [--repeats 20]

On insightface's t1.jpg (six faces), after one warm-up call each, in the same process:
1. per face, after the detector: ``face_mesh.dense_landmarks`` (first 192 px pass, mirror-averaged final
   pass = a batch of two, both irises in one 64 px batch of two), ``metric_face.face_mesh_mm`` and
   ``face_measurements.measure_face``, as CPU time (time.process_time: all threads) and wall time;
   the stages of dense_landmarks are timed on their own to show where the time goes (goal: <= 10 ms CPU);
2. the whole analysis of the photo: ``detect_faces(dense=True)`` + ``measure_face`` per face against
   ``detect_faces(dense=False)`` + the old ``measure_landmarks`` estimate, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # run from a checkout without installing: import playalter from it

from playalter.pipelines.engine import face_mesh  # noqa: E402
from playalter.pipelines.engine.detection import detect_faces  # noqa: E402
from playalter.pipelines.engine.face_measurements import measure_face  # noqa: E402
from playalter.pipelines.flame.measurements import measure_landmarks  # noqa: E402
from playalter.pipelines.engine.metric_face import face_mesh_mm  # noqa: E402
from detection import t1_image  # noqa: E402 (bench/detection.py)
from timing import median_ms  # noqa: E402 (bench/timing.py)


def stage_timings(image, face, repeats: int) -> dict[str, tuple[float, float]]:
    """(wall ms, CPU ms) of each stage of dense_landmarks."""
    mesh_net = face_mesh._net(face_mesh.model_paths()[0])
    iris_net = face_mesh._net(face_mesh.model_paths()[1])
    placement = face_mesh._placement_from_points(face.mesh.astype(float))
    points = face.mesh.astype(float)
    return {
        "one 192 px mesh pass": median_ms(lambda: face_mesh._run_meshes(mesh_net, image, [placement]), repeats),
        "mirror-averaged final pass": median_ms(
            lambda: face_mesh._run_meshes(mesh_net, image, [placement], mirror_average=True), repeats),
        "both irises, one 64 px batch of two": median_ms(lambda: face_mesh._run_irises(iris_net, image, points), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    image = t1_image()
    faces = detect_faces(image)
    print(f"t1.jpg {image.shape[1]} x {image.shape[0]}, {len(faces)} faces, cv2 threads {cv2.getNumThreads()}")
    per_face = []
    for face in faces:
        dense = median_ms(lambda face=face: face_mesh.dense_landmarks(image, face.bbox, face.kps), args.repeats)
        metric = median_ms(lambda face=face: face_mesh_mm(face), args.repeats)
        measure = median_ms(lambda face=face: measure_face(face), args.repeats)  # (wall ms, CPU ms) each
        per_face.append((dense, metric, measure))
        print(f"  face {face.size:4.0f} px: dense landmarks {dense[1]:6.2f} ms CPU / {dense[0]:6.2f} ms wall, "
              f"metric mesh {metric[1]:5.2f} / {metric[0]:5.2f}, measurements {measure[1]:5.2f} / {measure[0]:5.2f}")
    total_cpu = statistics.median(sum(part[1] for part in parts) for parts in per_face)
    total_wall = statistics.median(sum(part[0] for part in parts) for parts in per_face)
    print(f"per face after the detector (median): {total_cpu:.2f} ms CPU, {total_wall:.2f} ms wall (goal <= 10 ms CPU)")
    for name, (wall, cpu) in stage_timings(image, faces[0], args.repeats).items():
        print(f"  stage {name}: {cpu:.2f} ms CPU / {wall:.2f} ms wall")

    def dense_analysis():
        return [measure_face(face) for face in detect_faces(image, dense=True) if face.mesh is not None]

    def five_point_analysis():
        return [measure_landmarks(face) for face in detect_faces(image, dense=False)]

    dense_wall, dense_cpu = median_ms(dense_analysis, max(args.repeats // 4, 3))
    five_wall, five_cpu = median_ms(five_point_analysis, max(args.repeats // 4, 3))
    print(f"whole analysis of t1.jpg: dense {dense_cpu:.1f} ms CPU / {dense_wall:.1f} ms wall; "
          f"5-keypoint {five_cpu:.1f} / {five_wall:.1f}; ratio dense / 5-keypoint "
          f"{dense_cpu / five_cpu:.2f} CPU, {dense_wall / five_wall:.2f} wall")


if __name__ == "__main__":
    main()
