"""Landmark fitting speed and accuracy: PLAYALTER's fitter beside eos (``eos-py``) in the same process.

    python bench/flame.py [--repeats 30]

1. Synthetic FLAME-format model (tests/flame_synthetic.py): median time per face, 68 landmarks, 100 shape
   and 50 expression components, landmarks rendered from random parameters with 1 px noise.
   Then 68 landmarks against the dense MediaPipe set (``model.dense``) on the same random heads with the
   same 1 px noise: shape-coefficient RMS error and mean face-vertex error (mm), and time per fit.
2. Surrey Face Model (../shared/fixtures/sfm) on the ground-truth landmarks of
   ../shared/fixtures/faces/ibug300w_image_0010.pts: median time and landmark error (mean distance over
   the 50 landmarks the SFM maps / outer-eye-corner distance) for both fitters on the same input.

Set OPENBLAS_NUM_THREADS=1 (as below) for stable timings of small matrix work on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
FIXTURES = ROOT.parent / "shared" / "fixtures"

import flame_synthetic  # noqa: E402
from timing import median_ms  # noqa: E402 (bench/timing.py)
from playalter.pipelines.flame.fitting import Camera, FitOptions, fit_landmarks  # noqa: E402
from playalter.pipelines.flame.loading import load_flame  # noqa: E402
from playalter.pipelines.flame.model import from_flame, load_sfm  # noqa: E402


def bench_synthetic_flame(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generic_model.pkl"
        flame_synthetic.write_synthetic_flame(path)
        model = from_flame(load_flame(path))
    camera = Camera.for_image(1024, 1024)
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(repeats):
        truth = flame_synthetic.known_fit(model, rng, camera, 100, 50, rng.uniform(-25, 25, 3) * [0.4, 1, 0.3])
        cases.append(flame_synthetic.render_landmarks(model, truth) + rng.normal(size=(68, 2)))
    options = FitOptions(n_shape=100, n_expression=50)
    wall, cpu, errors = [], [], []
    fit_landmarks(model, cases[0], camera, options=options)
    for points in cases:
        start, start_cpu = time.perf_counter(), time.process_time()
        fit = fit_landmarks(model, points, camera, options=options)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        errors.append(fit.normalised_error)
    print("Synthetic FLAME (5023 vertices), 68 landmarks, 100 shape + 50 expression, 1 px noise")
    print(f"  faces: {len(cases)}   median per face: {1000 * statistics.median(wall):.1f} ms wall, "
          f"{1000 * statistics.median(cpu):.1f} ms CPU (goal 50 ms)   median residual / IOD: "
          f"{statistics.median(errors):.4f}")
    bench_dense_vs_68(model, camera, count=max(4, repeats // 3))


def bench_dense_vs_68(model, camera: Camera, count: int) -> None:
    rng = np.random.default_rng(1)
    rows = {"ibug68": [], "dense": []}
    for _ in range(count):
        rotation = rng.uniform(-30, 30, 3) * [0.4, 1, 0.3]
        for name, values in flame_synthetic.shape_recovery(model, rng, camera, rotation).items():
            rows[name].append(values)
    print(f"Shape recovery, {count} random heads (yaw up to 30 degrees), 100 shape + 50 expression, 1 px noise")
    print(f"  {'landmarks':<28} {'points':>6} {'shape coeff RMS':>16} {'face vertex error mm':>21}")
    for name, label, points in (("ibug68", "iBUG 68", 68), ("dense", "MediaPipe dense", len(model.dense))):
        coefficient, mesh = np.mean(rows[name], axis=0)
        print(f"  {label:<28} {points:>6} {coefficient:>16.3f} {mesh:>21.2f}")
    dense, sparse = np.mean(rows["dense"], axis=0), np.mean(rows["ibug68"], axis=0)
    print(f"  dense / 68: coefficient error x{dense[0] / sparse[0]:.2f}, vertex error x{dense[1] / sparse[1]:.2f}")
    truth = flame_synthetic.known_fit(model, rng, camera, 100, 50, (0, 15, 0))
    points = flame_synthetic.render_dense(model, truth)
    wall_ms, cpu_ms = median_ms(lambda: fit_landmarks(model, points, camera, embedding=model.dense), 5)
    print(f"  dense fit: {wall_ms:.1f} ms wall, {cpu_ms:.1f} ms CPU per face (median of 5)")


def read_pts(path: Path) -> np.ndarray:
    values = path.read_text().split("{")[1].split("}")[0].split()
    return np.asarray(values, dtype=np.float64).reshape(68, 2)


def eos_setup(sfm: Path):
    """An eos MorphableModel built from the npz arrays, plus the mapper, contours and edge topology."""
    import eos

    data = np.load(sfm / "sfm_3448.npz")
    mean = data["mean"].reshape(-1).astype(np.float32)  # [3N] mm
    eigenvalues = data["eigenvalues"].astype(np.float32)
    basis = (data["basis_rescaled"].reshape(-1, 63) / np.sqrt(eigenvalues)).astype(np.float32)  # orthonormal
    triangles = data["triangles"].astype(np.int64)
    shape_model = eos.morphablemodel.PcaModel(mean, basis, eigenvalues, triangles.tolist())
    blendshapes = [eos.morphablemodel.Blendshape(str(name), offsets.reshape(-1).astype(np.float32))
                   for name, offsets in zip(data["expression_names"], data["expression_blendshapes"])]
    model = eos.morphablemodel.MorphableModel(shape_model, blendshapes, eos.morphablemodel.PcaModel())
    mapper = eos.core.LandmarkMapper(str(sfm / "ibug_to_sfm.txt"))
    contour_landmarks = eos.fitting.ContourLandmarks.load(str(sfm / "ibug_to_sfm.txt"))
    model_contour = eos.fitting.ModelContour.load(str(sfm / "sfm_model_contours.json"))
    return eos, model, mapper, edge_topology(eos, triangles), contour_landmarks, model_contour


def edge_topology(eos, triangles: np.ndarray):
    """eos EdgeTopology (1-based; first face 0 on boundary edges) computed from the triangles."""
    faces_of_edge: dict[tuple[int, int], list[int]] = {}
    for face, (a, b, c) in enumerate(triangles):
        for u, v in ((a, b), (b, c), (c, a)):
            faces_of_edge.setdefault((min(u, v), max(u, v)), []).append(face + 1)
    adjacent_faces, adjacent_vertices = [], []
    for (u, v), faces in faces_of_edge.items():
        adjacent_faces.append([faces[0], faces[1]] if len(faces) > 1 else [0, faces[0]])
        adjacent_vertices.append([int(u) + 1, int(v) + 1])
    return eos.morphablemodel.EdgeTopology(adjacent_faces, adjacent_vertices)


def eos_landmarks_2d(mesh, rendering, vertex_ids: np.ndarray, width: int, height: int) -> np.ndarray:
    """Project mesh vertices [K] with eos's (scaled orthographic) rendering parameters to pixels [K,2]."""
    vertices = np.asarray(mesh.vertices)[vertex_ids]  # [K,3]
    homogeneous = np.hstack([vertices, np.ones((len(vertices), 1))])  # [K,4]
    clip = homogeneous @ (np.asarray(rendering.get_projection()) @ np.asarray(rendering.get_modelview())).T
    x = (clip[:, 0] + 1) / 2 * width
    y = height - (clip[:, 1] + 1) / 2 * height
    return np.stack([x, y], axis=1)


def bench_sfm(repeats: int) -> None:
    sfm, faces = FIXTURES / "sfm", FIXTURES / "faces"
    if not (sfm / "sfm_3448.npz").is_file():
        print(f"Surrey Face Model comparison skipped: {sfm} is absent")
        return
    import cv2

    points = read_pts(faces / "ibug300w_image_0010.pts")
    height, width = cv2.imread(str(faces / "ibug300w_image_0010.png")).shape[:2]
    inter_ocular = float(np.linalg.norm(points[36] - points[45]))
    data = np.load(sfm / "sfm_3448.npz")
    mapped = data["ibug_landmark_ids"].astype(int) - 1  # [50] iBUG indices the SFM maps
    mapped_vertices = data["ibug_vertex_ids"].astype(int)

    model = load_sfm(sfm / "sfm_3448.npz", sfm / "sfm_model_contours.json")
    options = FitOptions(n_shape=63, n_expression=6)
    camera = Camera.for_image(width, height)
    ours_ms = median_ms(lambda: fit_landmarks(model, points, camera, options=options), repeats)
    fit = fit_landmarks(model, points, camera, options=options)
    ours_error = float(np.linalg.norm(fit.landmarks_2d[mapped] - points[mapped], axis=1).mean() / inter_ocular)
    ours_all = fit.normalised_error

    try:
        eos, eos_model, mapper, topology, contour_landmarks, model_contour = eos_setup(sfm)
    except ImportError:
        print("eos-py is not installed (pip install eos-py): only PLAYALTER's numbers")
        eos = None
    rows = [("PLAYALTER (perspective, 63 shape + 6 expr)", *ours_ms, ours_error)]
    if eos is not None:
        landmarks = [eos.core.Landmark(str(index + 1), [float(x), float(y)]) for index, (x, y) in enumerate(points)]

        def run_eos():
            return eos.fitting.fit_shape_and_pose(eos_model, landmarks, mapper, width, height, topology,
                                                  contour_landmarks, model_contour)

        eos_ms = median_ms(run_eos, repeats)
        mesh, rendering, _, _ = run_eos()
        eos_points = eos_landmarks_2d(mesh, rendering, mapped_vertices, width, height)
        eos_error = float(np.linalg.norm(eos_points - points[mapped], axis=1).mean() / inter_ocular)
        rows.append(("eos fit_shape_and_pose (5 iterations, defaults)", *eos_ms, eos_error))
    print(f"\nSurrey Face Model on ibug300w_image_0010.pts ({width}x{height}, inter-ocular {inter_ocular:.1f} px), "
          f"{repeats} runs")
    print(f"  {'fitter':<50} {'wall ms':>8} {'CPU ms':>8} {'error / IOD (50 mapped)':>25}")
    for name, wall_ms, cpu_ms, error in rows:
        print(f"  {name:<50} {wall_ms:>8.1f} {cpu_ms:>8.1f} {error:>25.4f}")
    if len(rows) == 2:
        print(f"  eos / PLAYALTER: CPU time x{rows[1][2] / rows[0][2]:.2f}, error x{rows[1][3] / rows[0][3]:.2f}")
    print(f"  PLAYALTER error over all 66 fitted points (contour included): {ours_all:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    bench_synthetic_flame(args.repeats)
    bench_sfm(args.repeats)


if __name__ == "__main__":
    main()
