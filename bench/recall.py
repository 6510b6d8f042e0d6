"""Privacy recall on the tuning and the evaluation set: deface, the default (fp32), int8 and thorough, one run.

    python bench/recall.py [--sets tuning evaluation] [--pipelines deface fp32 int8 thorough]

The sets (docs/privacy.md, "How recall is measured"): the tuning set (tests/privacy_hard_set.py), on which
every detection choice is made, and the evaluation set (tests/privacy_eval_set.py), which no choice looked
at. Ground truth per frame: the faces the independent judge finds in the input (MTCNN from facenet-pytorch,
probability >= 0.9, on the frame enlarged 2x so that it sees faces from 10 px, in quarter turns on the
turned frames; tests/mtcnn_judge.py): of the pasted faces, those it finds; on the real photos, what it finds
``REAL_MIN_FACE`` px wide or more.

Per set, kind of frame and pipeline:
  faces       ground-truth faces (of them 10-24 px wide)
  left        of those, faces the judge still finds at the same place (IoU >= 0.3) in the output
  untouched   of those, faces whose centre the pipeline did not mask at all
  fp32 miss   faces the fp32 pass masks (its detections' centres) that this pipeline leaves unmasked
  ms          wall time of detect + mask per image (audit off; all pipelines in this one process:
              bench/privacy.py times each in its own)
and per set the false masks: regions the pipeline masks on the set's face-free photos.

deface: ``CenterFace()`` at full resolution, threshold 0.2, ``anonymize_frame`` with its CLI defaults.
fp32: ``find_faces`` with ``PRIVACY_DETECTION``, the default (the fp32 CenterFace); int8: the cascade
(``int8=True``, ``playalter anonymize --int8``); thorough: ``thorough=True``; each + ``protect`` (blur,
strength 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent))  # import playalter from this checkout
sys.path.insert(0, str(ROOT / "tests"))  # the set generators and the judge

import privacy_eval_set as evaluation  # noqa: E402
import privacy_hard_set as tuning  # noqa: E402
from privacy_hard_set import covered  # noqa: E402
from mtcnn_judge import MtcnnJudge  # noqa: E402
from privacy import deface_mask, deface_pass  # noqa: E402  (bench/privacy.py)

from playalter.pipelines.privacy import PrivacyOptions, protect  # noqa: E402
from playalter.pipelines.privacy.detection_settings import PRIVACY_DETECTION  # noqa: E402
from playalter.pipelines.privacy.finding import find_faces  # noqa: E402

OPTIONS = PrivacyOptions("blur", strength=1.0)
DETECTIONS = {"fp32": PRIVACY_DETECTION, "int8": replace(PRIVACY_DETECTION, int8=True),
              "thorough": replace(PRIVACY_DETECTION, thorough=True)}


def tuning_face_free() -> dict[str, np.ndarray]:
    return {name: tuning.face_free(name) for name in tuning.FACE_FREE}


def run(name: str, image: np.ndarray, deface) -> tuple[np.ndarray, np.ndarray, float]:
    """(output, mask [H,W] bool, seconds) of one pipeline on one image."""
    started = time.perf_counter()
    if name == "deface":
        output, dets = deface_pass(deface, image)
        mask = deface_mask(image.shape, dets)
    else:
        result = protect(image, find_faces(image, DETECTIONS[name], dense="mesh"), OPTIONS)
        output, mask = result.image, result.mask > 0.5
    return output, mask, time.perf_counter() - started


def false_masks(name: str, photos: dict[str, np.ndarray], deface) -> int:
    if name == "deface":
        return sum(len(deface(photo.copy(), threshold=0.2)[0]) for photo in photos.values())
    return sum(len(find_faces(photo, DETECTIONS[name], dense=False)) for photo in photos.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["tuning", "evaluation"], choices=["tuning", "evaluation"])
    parser.add_argument("--pipelines", nargs="+", default=["deface", *DETECTIONS],
                        choices=["deface", *DETECTIONS])
    args = parser.parse_args()
    if not tuning.FIXTURES.is_dir():
        print(f"note: {tuning.FIXTURES} is absent: the sets hold the packaged faces only")
    from deface.centerface import CenterFace

    deface = CenterFace(in_shape=None, backend="auto")
    judge = MtcnnJudge(upscale=evaluation.JUDGE_UPSCALE)
    sets = {"tuning": (lambda: tuning.tuning_frames(tuning.face_crops()), tuning_face_free, tuning.TURNS),
            "evaluation": (evaluation.evaluation_set, evaluation.face_free_evaluation, evaluation.TURNS)}
    for set_name in args.sets:
        make_frames, make_free, turns_of = sets[set_name]
        print(f"\n{set_name} set\n{'kind':<13} {'pipeline':<9} {'faces (10-24 px)':>17} {'left':>5} "
              f"{'untouched':>9} {'fp32 miss':>9} {'ms':>6}")
        totals = {name: np.zeros(6) for name in args.pipelines}
        frames_by_kind = make_frames()
        for kind, frames in frames_by_kind.items():
            rows = {name: np.zeros(6) for name in args.pipelines}
            for image, pasted in frames:
                turns = turns_of.get(kind, (0,))
                truth = evaluation.judged_faces(judge, image, pasted, turns)
                small = int(sum(10 <= box[2] - box[0] <= 24 for box in truth))
                fp32_faces = np.array([face.bbox for face in find_faces(image, DETECTIONS["fp32"], dense=False)],
                                      np.float32).reshape(-1, 4)
                for name in args.pipelines:
                    output, mask, seconds = run(name, image, deface)
                    left = len(judge.still_found(truth, output, turns))
                    untouched = len(truth) - covered(truth[:, :4], mask)
                    fp32_miss = len(fp32_faces) - covered(fp32_faces, mask)
                    rows[name] += [len(truth), small, left, untouched, fp32_miss, seconds * 1000]
            for name, row in rows.items():
                totals[name] += row
                row[5] /= len(frames)
                print(_line(kind, name, row))
        frames_count = sum(len(frames) for frames in frames_by_kind.values())
        free = make_free()
        for name, row in totals.items():
            row[5] /= frames_count
            print(_line("all", name, row) + f"   false masks on {len(free)} face-free photos: "
                  f"{false_masks(name, free, deface)}")
    return 0


def _line(kind: str, name: str, row: np.ndarray) -> str:
    faces, small, left, untouched, fp32_miss, ms = row
    return (f"{kind:<13} {name:<9} {f'{faces:.0f} ({small:.0f})':>17} {left:>5.0f} {untouched:>9.0f} "
            f"{fp32_miss:>9.0f} {ms:>6.0f}")


if __name__ == "__main__":
    sys.exit(main())
