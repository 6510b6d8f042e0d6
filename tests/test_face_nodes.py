"""Face Detect, Face Select and Faces To Mask nodes, called as ComfyUI calls them."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from playalter.nodes import compat
from playalter.nodes.face_detect import PlayAlterFaceDetect, PlayAlterFaceSelect, PlayAlterFacesToMask
from playalter.pipelines.core import config
from playalter.pipelines.core.errors import ImageValidationError, InvalidParameterError
from playalter.pipelines.engine.face import Face, faces_from_json

from onnx_models import use_models_dir


@pytest.fixture(autouse=True)
def no_buffalo(monkeypatch, tmp_path):
    """An empty models folder, so "auto" means the embedded CenterFace."""
    use_models_dir(monkeypatch, tmp_path)
    yield
    config.reset_settings()


def _tensor(*frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames).astype(np.float32) / 255.0)  # [B,H,W,3]


def _detect(image: torch.Tensor, **options):
    settings = {"backend": "auto", "threshold": 0.5, "max_side": 1280, "order": "largest"} | options
    return PlayAlterFaceDetect().detect(image, **settings)


def test_detect_outputs_faces_preview_count_and_json(t1_image):
    progress = []
    compat.set_progress_hook(lambda done, total: progress.append((done, total)))
    try:
        faces, preview, count, text = _detect(_tensor(t1_image, t1_image[:, ::-1].copy()))
    finally:
        compat.set_progress_hook(None)
    assert [len(image_faces) for image_faces in faces] == [6, 6] and count == 12
    assert progress == [(1, 2), (2, 2)]
    assert [[face.bbox.tolist() for face in image_faces] for image_faces in faces_from_json(text)] == \
           [[face.bbox.tolist() for face in image_faces] for image_faces in faces]
    assert preview.shape == (2, *t1_image.shape) and preview.dtype == torch.float32
    drawn = preview[0].numpy() != torch.from_numpy(t1_image.astype(np.float32) / 255).numpy()
    changed_rows, changed_cols = np.nonzero(drawn.any(axis=-1))
    x1, y1, x2, y2 = faces[0][0].bbox
    assert drawn[int(y1) - 40:int(y2) + 3, int(x1) - 3:int(x2) + 3].any()  # box and label of face 0
    far_from_faces = np.ones(t1_image.shape[:2], bool)
    for face in faces[0]:
        fx1, fy1, fx2, fy2 = face.bbox
        far_from_faces[max(int(fy1) - 60, 0):int(fy2) + 6, max(int(fx1) - 6, 0):int(fx2) + 40] = False
    assert not drawn.any(axis=-1)[far_from_faces].any()  # nothing drawn away from faces and labels


def test_detect_honours_interrupt(astronaut_image):
    cancel = threading.Event()
    cancel.set()
    compat.set_cancel_event(cancel)
    try:
        with pytest.raises(compat.InterruptedByUser):
            _detect(_tensor(astronaut_image))
    finally:
        compat.set_cancel_event(None)


def test_detect_reports_bad_backend_clearly(astronaut_image):
    with pytest.raises(InvalidParameterError, match="unknown detector backend"):
        _detect(_tensor(astronaut_image), backend="nope")


def _face(x: float, side: float) -> Face:
    return Face(bbox=[x, 10, x + side, 10 + side], score=0.9, kps=np.full((5, 2), x + side / 2))


def test_select_per_image():
    faces = [[_face(100, 50), _face(10, 30), _face(200, 20)], [_face(5, 40)]]
    chosen, count, text = PlayAlterFaceSelect().select(faces, "left_to_right", "0", 25, 0)
    assert [[face.bbox[0] for face in image_faces] for image_faces in chosen] == [[10], [5]]
    assert count == 2 and len(json.loads(text)) == 2
    chosen, count, _ = PlayAlterFaceSelect().select(faces, "keep", "", 40, 1)
    assert [[face.bbox[0] for face in image_faces] for image_faces in chosen] == [[100], [5]]


def test_select_validates_indices_before_running():
    assert PlayAlterFaceSelect.VALIDATE_INPUTS(indices="0,2") is True
    assert "comma-separated" in PlayAlterFaceSelect.VALIDATE_INPUTS(indices="zero")


def test_faces_to_mask_box_and_ellipse():
    image = torch.zeros((2, 100, 120, 3))
    faces = [[Face(bbox=[20, 30, 60, 80], score=1, kps=np.zeros((5, 2)))], []]
    (mask,) = PlayAlterFacesToMask().to_mask(faces, image, "box", 0)
    assert mask.shape == (2, 100, 120)
    assert mask[0, 30:80, 20:60].min() == 1 and mask[0].sum() == 40 * 50 and mask[1].sum() == 0
    (grown,) = PlayAlterFacesToMask().to_mask(faces, image, "box", 5)
    assert grown[0].sum() == 50 * 60
    (ellipse,) = PlayAlterFacesToMask().to_mask(faces, image, "ellipse", 0)
    assert ellipse[0, 55, 40] == 1 and ellipse[0, 30, 20] == 0 and ellipse[0, 31, 21] == 0
    assert abs(float(ellipse[0].sum()) - np.pi * 20 * 25) < 0.05 * np.pi * 20 * 25


def test_faces_to_mask_rejects_mismatched_batches():
    faces = [[], [], []]
    with pytest.raises(InvalidParameterError, match="faces for 3 images but an IMAGE batch of 2"):
        PlayAlterFacesToMask().to_mask(faces, torch.zeros((2, 64, 64, 3)), "box", 0)


@pytest.mark.parametrize("image, message", [
    (torch.zeros((0, 64, 64, 3)), "image is an empty batch"),
    (torch.zeros((1, 3, 64, 64)), r"image must be an IMAGE batch \[B,H,W,3\].*\(1, 3, 64, 64\)"),
    (torch.zeros((1, 64, 64, 2)), r"\(1, 64, 64, 2\)"),
    (torch.zeros((1, 64, 64, 3), dtype=torch.uint8), "floats from 0 to 1.*uint8"),
    (torch.zeros((2, 64, 64, 3)).index_fill(0, torch.tensor([1]), float("nan")), "image 1 of image holds NaN"),
    (torch.full((1, 64, 64, 3), float("inf")), "NaN or infinite"),
])
def test_unusable_images_are_refused_naming_the_input(image, message):
    """An IMAGE no node can use is an invalid_image error at the node, not a numpy error or a black image."""
    with pytest.raises(ImageValidationError, match=message):
        PlayAlterFacesToMask().to_mask([[]], image, "box", 0)
    with pytest.raises(ImageValidationError, match=message):
        _detect(image)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_faces_to_mask_takes_any_float_image_and_an_unbatched_one(dtype):
    faces = [[Face(bbox=[2, 3, 6, 8], score=1, kps=np.zeros((5, 2)))]]
    (mask,) = PlayAlterFacesToMask().to_mask(faces, torch.zeros((16, 12, 3), dtype=dtype), "box", 0)  # [H,W,3]
    assert mask.shape == (1, 16, 12) and mask.dtype == torch.float32 and mask.sum() == 4 * 5


def test_a_face_with_a_non_finite_box_is_refused_when_made():
    with pytest.raises(InvalidParameterError, match="must be finite numbers"):
        Face(bbox=[float("nan"), 0, 10, 10], score=1, kps=np.zeros((5, 2)))
    with pytest.raises(InvalidParameterError, match="shape"):
        Face(bbox=[0, 0, 10], score=1, kps=np.zeros((5, 2)))
