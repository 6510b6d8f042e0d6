"""Find an ISO/IEC 7810 ID-1 card (a bank card, 85.60 x 53.98 mm) held flat beside a face.

How: Canny edges, closed contours simplified to convex quadrilaterals (approxPolyDP) whose long / short
side ratio is near the card's 1.586, the largest one near the face wins. Its corners are then refined:
each side is re-fitted as a line through the strongest gradient found along its normals, and the four
lines are intersected. The intersections are the corners of the card's sharp outline, so the card's
rounded corners (3.18 mm radius) do not shorten it.

``CardFit.relative_sd`` is how far the card's pixel scale can be trusted: the corner placement
(CORNER_SD_PX per corner) in quadrature with the disagreement between the scale along the card's
long and its short sides (a card tilted out of the image plane is foreshortened along one axis).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CARD_WIDTH_MM = 85.60
CARD_HEIGHT_MM = 53.98
CARD_ASPECT = CARD_WIDTH_MM / CARD_HEIGHT_MM  # 1.586
ASPECT_TOLERANCE = 0.25  # a quadrilateral whose side ratio is within +-25 % of the card's is a candidate
MIN_CARD_WIDTH_PX = 60  # narrower: a one-pixel corner error is over 2 % of the scale
MAX_DISTANCE_IN_FACE_WIDTHS = 4.0  # the card is held beside the face, not across the room
CORNER_SD_PX = 0.5  # one refined corner: the gradient peak's sub-pixel placement
NORMAL_SEARCH_PX = 5
CANNY_THRESHOLDS = (30, 90)  # how far along each side's normal the refinement looks for the edge


@dataclass
class CardFit:
    corners: np.ndarray  # [4,2] float px, clockwise in the image from the top-left corner
    mm_per_px: float
    relative_sd: float


def _ordered(quad: np.ndarray) -> np.ndarray:
    """[4,2] corners ordered clockwise (image axes, y down) starting at the one nearest the top-left."""
    centre = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    quad = quad[np.argsort(angles)]  # clockwise on screen: y grows downwards
    start = int(np.argmin(quad.sum(axis=1)))
    return np.roll(quad, -start, axis=0)


def _axis_lengths(corners: np.ndarray) -> tuple[float, float]:
    """(long, short) px: the mean length of each pair of opposite sides of the [4,2] quadrilateral."""
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)  # [4]: 0-1, 1-2, 2-3, 3-0
    pairs = float(sides[0] + sides[2]) / 2, float(sides[1] + sides[3]) / 2
    return max(pairs), min(pairs)


def _candidates(image: np.ndarray) -> list[np.ndarray]:
    """Convex quadrilaterals [4,2] with the card's side ratio in ``image`` (uint8 [H,W,3])."""
    blurred = cv2.GaussianBlur(image, (5, 5), 0)
    edges = np.zeros(image.shape[:2], np.uint8)  # [H,W]: a card may differ from its background in colour only
    for channel in range(3):
        edges |= cv2.Canny(blurred[..., channel], *CANNY_THRESHOLDS)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    quads = []
    for contour in contours:
        perimeter = cv2.arcLength(contour, True)
        if perimeter < 4 * MIN_CARD_WIDTH_PX:
            continue
        approx = cv2.approxPolyDP(contour, 0.02 * perimeter, True)
        if len(approx) != 4 or not cv2.isContourConvex(approx):
            continue
        corners = _ordered(approx.reshape(4, 2).astype(np.float64))
        long_side, short_side = _axis_lengths(corners)
        if short_side <= 0 or long_side < MIN_CARD_WIDTH_PX:
            continue
        if abs(long_side / short_side / CARD_ASPECT - 1) <= ASPECT_TOLERANCE:
            quads.append(corners)
    return quads


def _refine(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """[4,2] corners: the intersections of lines fitted to the strongest gradient along each side's normals."""
    smooth = cv2.GaussianBlur(image.astype(np.float32), (3, 3), 0)  # [H,W,3]
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.ascontiguousarray(np.hypot(gx, gy).max(axis=2))  # [H,W]: the strongest channel
    height, width = image.shape[:2]
    lines = []
    for start, end in zip(corners, np.roll(corners, -1, axis=0)):
        direction = (end - start) / np.linalg.norm(end - start)
        normal = np.array([-direction[1], direction[0]])
        offsets = np.arange(-NORMAL_SEARCH_PX, NORMAL_SEARCH_PX + 1, dtype=np.float64)  # [S]
        points = []
        for t in np.linspace(0.15, 0.85, 40):  # away from the rounded corners
            probe = start + t * (end - start) + offsets[:, None] * normal  # [S,2]
            xs, ys = probe[:, 0].astype(np.float32), probe[:, 1].astype(np.float32)
            if xs.min() < 1 or ys.min() < 1 or xs.max() > width - 2 or ys.max() > height - 2:
                continue
            profile = cv2.remap(magnitude, xs[None], ys[None], cv2.INTER_LINEAR)[0]  # [S]
            peak = int(np.argmax(profile))
            shift = 0.0
            if 0 < peak < len(profile) - 1:  # parabola through the peak and its neighbours
                left, centre, right = profile[peak - 1], profile[peak], profile[peak + 1]
                denominator = left - 2 * centre + right
                shift = 0.5 * (left - right) / denominator if denominator < 0 else 0.0
            points.append(start + t * (end - start) + (offsets[peak] + shift) * normal)
        if len(points) < 10:
            return corners
        vx, vy, x0, y0 = cv2.fitLine(np.asarray(points, np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    refined = []
    for index in range(4):  # corner i joins side i-1 and side i
        (p1, d1), (p2, d2) = lines[index - 1], lines[index]
        matrix = np.column_stack([d1, -d2])
        if abs(np.linalg.det(matrix)) < 1e-6:
            return corners
        t = np.linalg.solve(matrix, p2 - p1)
        refined.append(p1 + t[0] * d1)
    return np.asarray(refined)


def card_fit(corners: np.ndarray) -> CardFit:
    """The card's scale from its [4,2] corners: mean mm/px of the long and short sides, and its trust."""
    long_px, short_px = _axis_lengths(corners)
    along_long, along_short = CARD_WIDTH_MM / long_px, CARD_HEIGHT_MM / short_px
    mm_per_px = (along_long + along_short) / 2
    slant = abs(along_long - along_short) / 2 / mm_per_px
    placement = CORNER_SD_PX * np.sqrt(2) / np.array([long_px, short_px])  # [2] relative, per axis
    relative_sd = float(np.sqrt(slant ** 2 + (placement ** 2).sum() / 4))
    return CardFit(corners, float(mm_per_px), relative_sd)


def find_card(image: np.ndarray, face_box: np.ndarray) -> CardFit | None:
    """The ID-1 card nearest the face in ``image`` (uint8 [H,W,3] RGB), or None when there is none.
    ``face_box`` is the face's [4] x1, y1, x2, y2 px; quadrilaterals mostly inside it (the face itself,
    glasses) or far from it are not taken for the card."""
    x1, y1, x2, y2 = (float(v) for v in face_box[:4])
    face_width = max(x2 - x1, 1.0)
    face_centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    best, best_area = None, 0.0
    for corners in _candidates(image):
        centre = corners.mean(axis=0)
        if np.linalg.norm(centre - face_centre) > MAX_DISTANCE_IN_FACE_WIDTHS * face_width:
            continue
        if x1 <= centre[0] <= x2 and y1 <= centre[1] <= y2:
            continue
        area = float(cv2.contourArea(corners.astype(np.float32)))
        if area > best_area:
            best, best_area = corners, area
    if best is None:
        return None
    return card_fit(_refine(image, best))
