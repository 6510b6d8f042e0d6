"""Derive PLAYALTER's 68-landmark definition on FLAME topology from the FLAME mean head.

Run once by a developer (``python tools/derive_flame_landmarks.py [head_template.obj]``); it prints the
vertex ids that ``pipelines/flame/landmarks.py`` stores, and writes ``derived_landmarks.png`` (a frontal
rendering with the points) for a visual check. Every point is found by a geometric rule on a frontal
orthographic z-buffer rendering of the mean head (0.5 mm pixels), then snapped to the nearest visible
head vertex:

- eyes: the region where the eyeball is visible (the palpebral fissure). Its leftmost / rightmost pixels
  are the canthi; the upper and lower lid points sit on the region's border at 1/3 and 2/3 of its width;
- nose: on the midline depth profile, pronasale = most anterior point, subnasale = deepest point between
  pronasale and the upper lip, nasion = deepest point between glabella and pronasale; the bridge points
  divide the line from the lid level to pronasale in thirds; the nose-base points lie on the row halfway
  between pronasale and subnasale, out to the alar-facial grooves (the most concave point of the row);
- mouth: the lips meet along a crease (the deepest notch of each vertical profile), traced outward from the
  midline until it fades: its ends are the mouth corners, the inner lip points lie 1 mm above / below it;
  the outer lip points are the most anterior points of each lip on vertical profiles;
- brows: the crest of the brow ridge (most anterior point of each vertical profile above the eye), at five
  columns spread from just inside the inner canthus to beyond the outer canthus;
- jaw contour: the outline of the face in the frontal view, cut by rays from a centre at nose height,
  spaced evenly from the height of the lower eyelid on one side, through the chin, to the other side.
  For the fitter each contour point gets a row of candidates (all head vertices on its ray's half-plane
  between the cheek and the ear), from which the pose-dependent silhouette point is chosen.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from playalter.pipelines.engine.mesh_io import read_obj

HEAD_VERTICES = 3931  # FLAME vertices 0..3930 are the head surface, then two eyeballs of 546 vertices
RES = 0.0005  # metres per pixel of the frontal rendering
X_RANGE = (-0.11, 0.11)
Y_RANGE = (1.30, 1.64)




def render_depth(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic z-buffer looking down -z: depth [H,W] (z of the visible surface), triangle id [H,W]."""
    width = int((X_RANGE[1] - X_RANGE[0]) / RES)
    height = int((Y_RANGE[1] - Y_RANGE[0]) / RES)
    depth = np.full((height, width), -np.inf)
    triangle = np.full((height, width), -1)
    pixels = np.stack([(vertices[:, 0] - X_RANGE[0]) / RES, (Y_RANGE[1] - vertices[:, 1]) / RES,
                       vertices[:, 2]], axis=1)  # [V,3] column, row, z
    for index, (a, b, c) in enumerate(faces):
        pa, pb, pc = pixels[a], pixels[b], pixels[c]
        area = (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pc[0] - pa[0]) * (pb[1] - pa[1])
        if abs(area) < 1e-12:
            continue
        c0 = max(int(np.floor(min(pa[0], pb[0], pc[0]))), 0)
        c1 = min(int(np.ceil(max(pa[0], pb[0], pc[0]))), width - 1)
        r0 = max(int(np.floor(min(pa[1], pb[1], pc[1]))), 0)
        r1 = min(int(np.ceil(max(pa[1], pb[1], pc[1]))), height - 1)
        if c1 < c0 or r1 < r0:
            continue
        cols, rows = np.meshgrid(np.arange(c0, c1 + 1) + 0.5, np.arange(r0, r1 + 1) + 0.5)
        l1 = ((cols - pa[0]) * (pc[1] - pa[1]) - (pc[0] - pa[0]) * (rows - pa[1])) / area
        l2 = ((pb[0] - pa[0]) * (rows - pa[1]) - (cols - pa[0]) * (pb[1] - pa[1])) / area
        l0 = 1 - l1 - l2
        z = l0 * pa[2] + l1 * pb[2] + l2 * pc[2]
        closer = (l0 >= 0) & (l1 >= 0) & (l2 >= 0) & (z > depth[r0:r1 + 1, c0:c1 + 1])
        depth[r0:r1 + 1, c0:c1 + 1][closer] = z[closer]
        triangle[r0:r1 + 1, c0:c1 + 1][closer] = index
    return depth, triangle


def to_pixel(x: float, y: float) -> tuple[int, int]:
    return int((Y_RANGE[1] - y) / RES), int((x - X_RANGE[0]) / RES)


def to_metres(row: float, col: float) -> tuple[float, float]:
    return X_RANGE[0] + (col + 0.5) * RES, Y_RANGE[1] - (row + 0.5) * RES


class Head:
    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        self.vertices = vertices
        self.faces = faces
        self.depth, self.triangle = render_depth(vertices, faces)
        head_triangle = (self.triangle >= 0) & (faces[np.maximum(self.triangle, 0)].max(axis=-1) < HEAD_VERTICES)
        self.head_pixels = np.argwhere(head_triangle)  # [N,2] rows, cols where the head surface is visible

    def point_at(self, x: float, y: float) -> tuple[int, np.ndarray]:
        """The visible head-surface point at (x, y) in the frontal view: (triangle id, barycentric [3])."""
        row, col = to_pixel(x, y)
        nearest = self.head_pixels[np.argmin(np.abs(self.head_pixels - [row, col]).sum(axis=1))]
        triangle = int(self.triangle[nearest[0], nearest[1]])
        corners = self.vertices[self.faces[triangle], :2]  # [3,2]
        x, y = to_metres(*nearest)
        matrix = np.array([corners[1] - corners[0], corners[2] - corners[0]]).T  # [2,2]
        l1, l2 = np.linalg.solve(matrix, np.array([x, y]) - corners[0])
        weights = np.clip([1 - l1 - l2, l1, l2], 0, 1)
        return triangle, weights / weights.sum()

    def position(self, point: tuple[int, np.ndarray]) -> np.ndarray:
        triangle, weights = point
        return weights @ self.vertices[self.faces[triangle]]

    def profile(self, x: float, y_top: float, y_bottom: float) -> tuple[np.ndarray, np.ndarray]:
        """Vertical depth profile at column x: heights [N] (descending) and depths [N]."""
        r0, col = to_pixel(x, y_top)
        r1, _ = to_pixel(x, y_bottom)
        heights = np.array([to_metres(row, col)[1] for row in range(r0, r1 + 1)])
        return heights, self.depth[r0:r1 + 1, col]

    def row(self, y: float, x_from: float, x_to: float) -> tuple[np.ndarray, np.ndarray]:
        """Horizontal depth profile at height y from x_from to x_to: positions [N] and depths [N]."""
        row, c0 = to_pixel(x_from, y)
        _, c1 = to_pixel(x_to, y)
        step = 1 if c1 >= c0 else -1
        cols = np.arange(c0, c1 + step, step)
        return np.array([to_metres(row, col)[0] for col in cols]), self.depth[row, cols]


def smooth(values: np.ndarray, width: int = 5) -> np.ndarray:
    kernel = np.ones(width) / width
    padded = np.pad(values, width // 2, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def eye_outline(head: Head, eyeball: range) -> dict[str, tuple[float, float]]:
    """Canthi and lid points (x, y) of one eye: the lid points lie on the border of the visible eyeball region;
    the canthi are where the crease between the lids, followed outward from that region, fades."""
    faces = head.faces[np.maximum(head.triangle, 0), 0]
    visible_eye = (head.triangle >= 0) & (faces >= eyeball.start) & (faces < eyeball.stop)
    rows, cols = np.nonzero(visible_eye)
    left, right = cols.min(), cols.max()
    points = {}
    for key, col, direction in (("low_x_corner", left, -1), ("high_x_corner", right, 1)):
        start = to_metres(rows[cols == col].mean(), col)
        traced = trace_crease(head, start[0] + direction * RES, start[1], direction, 0.002, 0.0003)
        points[key] = traced[-1] if traced else start
    for name, fraction in (("third", 1 / 3), ("two_thirds", 2 / 3)):
        col = int(round(left + fraction * (right - left)))
        in_column = rows[cols == col]
        points[f"upper_{name}"] = to_metres(in_column.min() - 1, col)
        points[f"lower_{name}"] = to_metres(in_column.max() + 1, col)
    return points


def crease(head: Head, x: float, y_top: float, y_bottom: float, min_depth: float) -> float | None:
    """Height of the deepest notch (local depth minimum, measured against the lower of its two neighbouring
    crests) of the vertical profile at column x, or None when no notch is at least min_depth deep."""
    heights, depths = head.profile(x, y_top, y_bottom)
    best, best_depth = None, min_depth
    for index in range(1, len(depths) - 1):
        if depths[index] <= depths[index - 1] and depths[index] <= depths[index + 1]:
            notch = min(depths[:index].max(), depths[index:].max()) - depths[index]
            if notch > best_depth:
                best, best_depth = heights[index], notch
    return best


def trace_crease(head: Head, x_start: float, y_start: float, direction: int, half_window: float,
                 min_depth: float) -> list[tuple[float, float]]:
    """Follow a horizontal crease (the lips' or the eyelids' meeting line) from (x_start, y_start) column by
    column in `direction` (+1 / -1 in x) until it fades: points (x, y)."""
    points, y = [], y_start
    x = x_start
    while True:
        found = crease(head, x, y + half_window, y - half_window, min_depth)
        if found is None:
            return points
        y = found
        points.append((x, y))
        x += direction * RES


def derive(head: Head) -> tuple[dict[int, tuple[int, np.ndarray]], dict[str, tuple[int, np.ndarray]]]:
    """The 68 iBUG points and the anthropometric points, each as (triangle id, barycentric [3])."""
    vertices = head.vertices
    ibug: dict[int, tuple[int, np.ndarray]] = {}
    anthro: dict[str, tuple[int, np.ndarray]] = {}

    # Eyes. The subject's right eye is at negative x (image left in a frontal photo): iBUG 37-42.
    right = eye_outline(head, range(HEAD_VERTICES + 546, HEAD_VERTICES + 1092))
    left = eye_outline(head, range(HEAD_VERTICES, HEAD_VERTICES + 546))
    for number, key in ((37, "low_x_corner"), (38, "upper_third"), (39, "upper_two_thirds"),
                        (40, "high_x_corner"), (41, "lower_two_thirds"), (42, "lower_third")):
        ibug[number] = head.point_at(*right[key])
    for number, key in ((43, "low_x_corner"), (44, "upper_third"), (45, "upper_two_thirds"),
                        (46, "high_x_corner"), (47, "lower_two_thirds"), (48, "lower_third")):
        ibug[number] = head.point_at(*left[key])
    anthro.update(ex_r=ibug[37], en_r=ibug[40], en_l=ibug[43], ex_l=ibug[46])
    lid_top = np.mean([right["upper_third"][1], right["upper_two_thirds"][1],
                       left["upper_third"][1], left["upper_two_thirds"][1]])
    eye_level = np.mean([right["low_x_corner"][1], left["high_x_corner"][1]])

    # Nose and mouth, on the midline depth profile.
    heights, depths = head.profile(0.0, lid_top + 0.03, lid_top - 0.09)
    tip = int(np.argmax(np.where(heights < lid_top, depths, -np.inf)))
    pronasale_y = heights[tip]
    glabella = int(np.argmax(np.where(heights > lid_top, depths, -np.inf)))
    nasion_y = heights[glabella + int(np.argmin(depths[glabella:tip]))]
    stomion_y = crease(head, 0.0, pronasale_y - 0.012, pronasale_y - 0.045, 0.001)
    upper_lip = int(np.argmax(np.where((heights > stomion_y + 0.0015) & (heights < stomion_y + 0.012), depths, -np.inf)))
    subnasale_y = heights[tip + int(np.argmin(depths[tip:upper_lip]))]
    ibug[31] = anthro["prn"] = head.point_at(0.0, pronasale_y)
    anthro["sn"] = head.point_at(0.0, subnasale_y)
    anthro["n"] = head.point_at(0.0, nasion_y)
    for number, fraction in ((28, 0.0), (29, 1 / 3), (30, 2 / 3)):
        ibug[number] = head.point_at(0.0, lid_top + fraction * (pronasale_y - lid_top))

    # Alar grooves: the most concave point of each side of a depth row across the nose wings.
    def alar_groove(y: float, side: int) -> float:
        xs, zs = head.row(y, 0.0, side * 0.03)
        curvature = np.gradient(np.gradient(smooth(zs)))
        search = (np.abs(xs) > 0.008) & (np.abs(xs) < 0.025)
        return float(xs[search][np.argmax(curvature[search])])

    nose_rows = np.linspace(pronasale_y - 0.002, pronasale_y - 0.010, 9)
    widths = [alar_groove(y, 1) - alar_groove(y, -1) for y in nose_rows]
    alare_y = nose_rows[int(np.argmax(widths))]
    anthro["al_r"] = head.point_at(alar_groove(alare_y, -1), alare_y)
    anthro["al_l"] = head.point_at(alar_groove(alare_y, 1), alare_y)
    base_y = (pronasale_y + subnasale_y) / 2  # the nose base as a frontal photo shows it
    ibug[32] = head.point_at(alar_groove(base_y, -1), base_y)
    ibug[36] = head.point_at(alar_groove(base_y, 1), base_y)
    ibug[33] = head.point_at(alar_groove(base_y, -1) / 2, base_y)
    ibug[34] = head.point_at(0.0, base_y)
    ibug[35] = head.point_at(alar_groove(base_y, 1) / 2, base_y)

    # Mouth: the crease where the lips meet, traced from the midline; its ends are the mouth corners.
    right_half = trace_crease(head, 0.0, stomion_y, -1, 0.004, 0.001)
    left_half = trace_crease(head, 0.0, stomion_y, 1, 0.004, 0.001)
    crease_x, crease_y = (np.array(values) for values in zip(*(right_half[::-1] + left_half[1:])))
    corner_r = (crease_x[0], crease_y[0])
    corner_l = (crease_x[-1], crease_y[-1])
    half_width = (corner_l[0] - corner_r[0]) / 2
    ibug[49] = ibug[61] = anthro["ch_r"] = head.point_at(*corner_r)
    ibug[55] = ibug[65] = anthro["ch_l"] = head.point_at(*corner_l)
    anthro["sto"] = head.point_at(0.0, stomion_y)
    for upper, lower, fraction in ((62, 68, -0.5), (63, 67, 0.0), (64, 66, 0.5)):
        x = fraction * half_width
        y = float(np.interp(x, crease_x, crease_y))
        ibug[upper] = head.point_at(x, y + 0.001)
        ibug[lower] = head.point_at(x, y - 0.001)

    # Outer lip contour: the most anterior point of each lip on vertical profiles across the mouth.
    def lip_front(x: float, upper_lip: bool) -> tuple[int, np.ndarray]:
        y_crease = float(np.interp(x, crease_x, crease_y))
        if upper_lip:
            hs, zs = head.profile(x, subnasale_y - 0.002, y_crease + 0.0015)
        else:
            hs, zs = head.profile(x, y_crease - 0.0015, y_crease - 0.015)
        return head.point_at(x, hs[int(np.argmax(zs))])

    for number, fraction in ((50, -0.55), (51, -0.2), (52, 0.0), (53, 0.2), (54, 0.55)):
        ibug[number] = lip_front(fraction * half_width, True)
    for number, fraction in ((60, -0.55), (59, -0.2), (58, 0.0), (57, 0.2), (56, 0.55)):
        ibug[number] = lip_front(fraction * half_width, False)
    anthro["ls"], anthro["li"] = ibug[52], ibug[58]

    # Brows: crest of the brow ridge (most anterior point of the vertical profile) above each eye.
    for numbers, eye, inner_key, outer_key in (((18, 19, 20, 21, 22), right, "high_x_corner", "low_x_corner"),
                                              ((27, 26, 25, 24, 23), left, "low_x_corner", "high_x_corner")):
        inner_x, outer_x = eye[inner_key][0], eye[outer_key][0]
        for number, fraction in zip(numbers, (1.15, 0.85, 0.55, 0.25, -0.05)):
            x = inner_x + fraction * (outer_x - inner_x)
            hs, zs = head.profile(x, lid_top + 0.025, lid_top + 0.004)
            ibug[number] = head.point_at(x, hs[int(np.argmax(zs))])

    # Jaw contour and the widths of the face.
    outline = face_outline(head, centre=(0.0, pronasale_y), start_y=eye_level - 0.01)
    for number, point in zip(range(1, 18), outline):
        ibug[number] = point
    anthro["gn"] = ibug[9]
    widest = max(((head.point_at(*xy_r), head.point_at(*xy_l)) for xy_r, xy_l in
                  (outline_width(head, y) for y in np.linspace(eye_level, pronasale_y, 12))),
                 key=lambda pair: head.position(pair[1])[0] - head.position(pair[0])[0])
    anthro["zy_r"], anthro["zy_l"] = widest
    gonion_y = stomion_y - 0.012
    anthro["go_r"], anthro["go_l"] = (head.point_at(*xy) for xy in outline_width(head, gonion_y))
    forehead_y = lid_top + 0.03
    anthro["ft_r"], anthro["ft_l"] = (head.point_at(temporal_crest(head, forehead_y, side), forehead_y)
                                      for side in (-1, 1))
    anthro["pupil_r"] = pupil(vertices, range(HEAD_VERTICES + 546, HEAD_VERTICES + 1092))
    anthro["pupil_l"] = pupil(vertices, range(HEAD_VERTICES, HEAD_VERTICES + 546))
    return ibug, anthro


def temporal_crest(head: Head, y: float, side: int) -> float:
    """x of the temporal crest on one side of the forehead row at height y: the sharpest convex bend of the
    row's depth profile, where the forehead turns into the side of the head."""
    xs, zs = head.row(y, 0.0, side * 0.08)
    curvature = -np.gradient(np.gradient(smooth(zs, 9)))
    search = (np.abs(xs) > 0.03) & (np.abs(xs) < 0.07)
    return float(xs[search][np.argmax(curvature[search])])


def pupil(vertices: np.ndarray, eyeball: range) -> tuple[int, np.ndarray]:
    """The most anterior vertex of an eyeball, as a degenerate barycentric point (vertex id, weight 1)."""
    return int(eyeball.start + np.argmax(vertices[eyeball.start:eyeball.stop, 2])), np.array([1.0, 0.0, 0.0])


def face_outline(head: Head, centre: tuple[float, float], start_y: float) -> list[tuple[int, np.ndarray]]:
    """17 points on the frontal outline of the face, from the subject's right (iBUG 1) to the left (iBUG 17)."""
    lift = np.arctan2(start_y - centre[1], 0.07)  # the first ray points this much above horizontal
    angles = np.linspace(np.pi + lift, -lift, 17)  # 0 = towards +x (subject's left), pi/2 = up, -pi/2 = down
    return [head.point_at(*outline_along(head, centre, angle)) for angle in angles]


def outline_along(head: Head, centre: tuple[float, float], angle: float, skip: float = 0.03) -> tuple[float, float]:
    """Walk from `skip` metres out of centre at image angle `angle` (0 = +x, pi/2 = down) until the face ends:
    the background, or a surface that within the next 3 mm turns to within 20 degrees of the viewing ray and
    does not come forward again within 15 mm (the silhouette of the face in front of an ear or over the neck;
    the step under the lower lip comes forward again at the chin)."""
    step, window, reach = RES / 2, 0.003, 0.015
    drop = np.tan(np.radians(70)) * window
    direction = np.array([np.cos(angle), -np.sin(angle)])  # (x, y) in metres; image down = -y
    position = np.array(centre, dtype=float) + skip * direction

    def depth_at(point: np.ndarray) -> float:
        row, col = to_pixel(*point)
        inside = 0 <= row < head.depth.shape[0] and 0 <= col < head.depth.shape[1]
        return float(head.depth[row, col]) if inside else -np.inf

    while True:
        here = depth_at(position)
        ahead = depth_at(position + window * direction)
        if not np.isfinite(ahead):
            break
        if here - ahead > drop:
            beyond = max(depth_at(position + distance * direction) for distance in np.arange(window, reach, step))
            if here - beyond > drop:
                break
        position = position + step * direction
    return float(position[0]), float(position[1])


def outline_width(head: Head, y: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Right and left ends (x, y) of the face outline along the row at height y."""
    centre = (0.0, y)
    return outline_along(head, centre, np.pi), outline_along(head, centre, 0.0)


def contour_rows(head: Head, outline: list[tuple[int, np.ndarray]], centre: tuple[float, float]) -> list[np.ndarray]:
    """For each of the 17 contour points, the head vertices that can form the silhouette there under head
    rotation: vertices within 5 mm of the point's ray (frontal view), from 25 mm inside the outline to 5 %
    outside it (the silhouette of a cheek turned away moves inwards, towards the nose), at most 50 mm
    behind it (the silhouette of a cheek turned towards the camera moves back, towards the ear), and not
    outside the frontal face outline of their own height (that excludes the ears)."""
    vertices = head.vertices[:HEAD_VERTICES]
    offsets = vertices[:, :2] - np.array(centre)  # [V,2]
    heights = np.round(vertices[:, 1], 3)
    half_width = {y: max(abs(x) for x, _ in outline_width(head, y)) for y in np.unique(heights)
                  if Y_RANGE[0] < y < Y_RANGE[1]}
    inside_outline = np.array([abs(x) <= half_width.get(y, 0.0) + 0.002 for x, y in zip(vertices[:, 0], heights)])
    rows = []
    for point in outline:
        target = head.position(point)
        ray = target[:2] - np.array(centre)
        radius = np.linalg.norm(ray)
        ray = ray / radius
        along = offsets @ ray
        across = np.abs(offsets @ np.array([-ray[1], ray[0]]))
        selected = (across < 0.005) & (along > radius - 0.025) & (along < 1.05 * radius) & (
            vertices[:, 2] > target[2] - 0.05) & inside_outline
        rows.append(np.where(selected)[0])
    return rows


def main(obj_path: Path) -> None:
    vertices, faces = read_obj(obj_path)
    head = Head(vertices, faces)
    ibug, anthro = derive(head)
    print("IBUG68_TRIANGLES = (")
    triangles = [ibug[number][0] for number in range(1, 69)]
    for start in range(0, 68, 10):
        print("    " + ", ".join(str(t) for t in triangles[start:start + 10]) + ",")
    print(")")
    print("IBUG68_BARYCENTRIC = (")
    for number in range(1, 69):
        print("    (" + ", ".join(f"{w:.4f}" for w in ibug[number][1]) + "),")
    print(")")
    print("ANTHROPOMETRIC_POINTS = {")
    for name, (triangle, weights) in anthro.items():
        print(f'    "{name}": ({triangle}, (' + ", ".join(f"{w:.4f}" for w in weights) + ")),")
    print("}")
    outline = [ibug[number] for number in range(1, 18)]
    centre = (0.0, float(head.position(ibug[31])[1]))
    print("CONTOUR_CANDIDATES = (")
    for row in contour_rows(head, outline, centre):
        print("    (" + ", ".join(str(v) for v in row) + ",),")
    print(")")
    points = np.array([head.position(ibug[number]) for number in range(1, 69)])
    mirrored = points[MIRROR] * np.array([-1, 1, 1])
    print("# largest left/right asymmetry (mm):", np.round(np.linalg.norm(points - mirrored, axis=1).max() * 1000, 2))
    save_preview(head, points, Path("derived_landmarks.png"))


# iBUG index (0-based) of each point's mirror partner.
MIRROR = np.array(
    [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
     26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
     27, 28, 29, 30, 35, 34, 33, 32, 31,
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
     64, 63, 62, 61, 60, 67, 66, 65]
)


def save_preview(head: Head, points: np.ndarray, path: Path) -> None:
    import cv2

    shade = np.where(np.isfinite(head.depth), (head.depth - np.nanmin(head.depth[np.isfinite(head.depth)])), 0)
    image = (255 * shade / shade.max()).astype(np.uint8)
    image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    image = cv2.resize(image, None, fx=2, fy=2)
    for number, point in enumerate(points, start=1):
        row, col = to_pixel(*point[:2])
        cv2.circle(image, (2 * col, 2 * row), 2, (0, 0, 255), -1)
        cv2.putText(image, str(number), (2 * col + 3, 2 * row - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 255, 255), 1)
    cv2.imwrite(str(path), image)


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "flame" / "head_template.obj"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
