"""MTCNN from facenet-pytorch: the independent judge of the privacy and video tests.

A cascade of three small CNNs, trained apart from both detectors the project uses (CenterFace chooses the
masks, BlazeFace is the self-audit's second look), with its weights inside the package
(``pip install --no-deps facenet-pytorch``; its pinned torch and torchvision are not wanted).

facenet-pytorch imports two functions from torchvision, which cannot be imported beside the CPU torch of
the test command: ``torchvision_stand_in`` offers exactly those two (``to_tensor`` and ``batched_nms``,
written here with torch) while it imports.
"""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest
from torchvision_stand_in import import_beside_stand_in

PROBABILITY = 0.9  # the judge's "a face": facenet-pytorch's own recommended cut
SAME_FACE_IOU = 0.3


def _nms(boxes, scores, threshold: float):
    import torch

    order = scores.argsort(descending=True)
    keep = []
    while order.numel():
        best = order[0]
        keep.append(best)
        rest = order[1:]
        top_left = torch.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = torch.minimum(boxes[best, 2:], boxes[rest, 2:])
        overlap = (bottom_right - top_left).clamp(min=0).prod(dim=1)
        areas = (boxes[:, 2:] - boxes[:, :2]).prod(dim=1)
        order = rest[overlap / (areas[best] + areas[rest] - overlap) <= threshold]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long)


def _batched_nms(boxes, scores, groups, threshold: float):
    """torchvision.ops.batched_nms: NMS within each group, kept indices by decreasing score."""
    if boxes.numel() == 0:
        import torch

        return torch.zeros(0, dtype=torch.long)
    shift = groups.to(boxes) * (boxes.max() + 1)  # boxes of different groups never overlap
    return _nms(boxes + shift[:, None], scores, threshold)


def _to_tensor(array):
    import torch

    return torch.from_numpy(np.ascontiguousarray(array).transpose(2, 0, 1) / 255.0).float()


def load_mtcnn():
    """facenet_pytorch.MTCNN (all faces, 20 px and up, CPU); skips the test when the package is absent."""
    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip("facenet-pytorch is absent (pip install --no-deps facenet-pytorch)")
    facenet = import_beside_stand_in("facenet_pytorch", {"transforms.functional.to_tensor": _to_tensor,
                                                         "ops.boxes.batched_nms": _batched_nms})
    return facenet.MTCNN(keep_all=True, min_face_size=20, device="cpu")


def _turned_back(box: np.ndarray, k: int, height: int, width: int) -> list[float]:
    """A box x1,y1,x2,y2 found on np.rot90(image, k) of an H x W image -> the same box on the image."""
    x1, y1, x2, y2 = box
    corners = {0: (x1, y1, x2, y2), 1: (width - y2, x1, width - y1, x2),
               2: (width - x2, height - y2, width - x1, height - y1), 3: (y1, height - x2, y2, height - x1)}
    return [float(value) for value in corners[k % 4]]


class MtcnnJudge:
    """faces(rgb uint8 [H,W,3]) -> [(box [4] x1,y1,x2,y2, probability)] with probability >= ``probability``.

    MTCNN looks for faces from 20 px. ``upscale`` > 1 detects on the image enlarged that many times (bicubic)
    and maps the boxes back, so that faces from 20 / upscale px are found (upscale=2: from 10 px, in 2-3x the
    time on a 1920x1080 crowd). MTCNN's own smaller ``min_face_size`` looks at the same scales but enlarges by
    area resampling (blocky) and found half as many 10-12 px faces. The default (1) detects on the image as
    it is."""

    def __init__(self, probability: float = PROBABILITY, upscale: float = 1.0):
        self.model = load_mtcnn()
        self.probability = probability
        self.upscale = upscale

    def faces(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        import torch

        if self.upscale != 1:
            height, width = image.shape[:2]
            image = cv2.resize(image, (round(width * self.upscale), round(height * self.upscale)),
                               interpolation=cv2.INTER_CUBIC)
        with torch.inference_mode():
            boxes, probabilities = self.model.detect(np.ascontiguousarray(image))
        if boxes is None:
            return []
        return [(box.astype(np.float32) / self.upscale, float(p))
                for box, p in zip(boxes, probabilities) if p >= self.probability]

    def boxes(self, image: np.ndarray, turns: tuple[int, ...] = (0,)) -> np.ndarray:
        """[N,5] x1,y1,x2,y2,probability; with ``turns`` also on the image turned counter-clockwise by each
        k x 90 degrees (MTCNN finds upright faces only), boxes mapped back onto ``image``."""
        height, width = image.shape[:2]
        rows = []
        for k in turns:
            for box, probability in self.faces(np.rot90(image, k)):
                rows.append([*_turned_back(box, k, height, width), probability])
        return np.array(rows, np.float32).reshape(-1, 5)

    def still_found(self, before: np.ndarray, after: np.ndarray, turns: tuple[int, ...] = (0,)) -> list[list[float]]:
        """Of the faces ``before`` [N,5] the judge found in a frame, those it still finds in ``after`` (the same
        frame masked), as boxes [x1,y1,x2,y2]. A detection of ``after`` overlapping no face of ``before``
        (the judge sometimes calls a blurred patch or a pile of poker chips a face) is no face left behind."""
        from playalter.pipelines.engine.detection.nms import iou

        found = self.boxes(after, turns)
        return [box[:4].tolist() for box in before if len(found) and iou(box, found).max() >= SAME_FACE_IOU]
