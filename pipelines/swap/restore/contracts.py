"""What each face restoration model expects: one data table, no branches (docs/swap.md, "Face restoration").

All five take one aligned face crop and return the restored crop of the same size:
- crop: the face aligned by its five keypoints to the FFHQ template (facexlib's, which GFPGAN and
  CodeFormer were trained with; facefusion's ``ffhq_512``), scaled to the model's size;
- input ``[1,3,S,S]`` float32, RGB, values in -1..1 (``pixel / 127.5 - 1``);
- output ``[1,3,S,S]`` float32, RGB, -1..1 (clipped, then ``(value + 1) * 127.5``);
- CodeFormer alone has a second input, ``weight``: its fidelity ``w`` as a float64 array of shape [1]
  (0 = the most restoration, 1 = the closest to the input face).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.errors import InvalidParameterError
from ...core.quoting import quoted
from ..choices import RESTORE_MODELS

FFHQ_512 = np.array(
    [[192.98138, 239.94708], [318.90277, 240.19360], [256.63416, 314.01935], [201.26117, 371.41043],
     [313.08905, 371.15118]],
    dtype=np.float32,
)  # [5,2] eyes, nose tip, mouth corners in a 512x512 crop


@dataclass(frozen=True)
class Restorer:
    name: str  # the option value and the registry's model name
    title: str
    size: int  # side of the input and output crop, pixels
    has_weight: bool  # takes CodeFormer's fidelity input ``weight``


RESTORERS = {restorer.name: restorer for restorer in (
    Restorer("gfpgan_1.4", "GFPGAN 1.4", 512, False),
    Restorer("codeformer", "CodeFormer", 512, True),
    Restorer("gpen_bfr_512", "GPEN-BFR 512", 512, False),
    Restorer("gpen_bfr_1024", "GPEN-BFR 1024", 1024, False),
    Restorer("restoreformer_plus_plus", "RestoreFormer++", 512, False),
)}


def restorer(name: str) -> Restorer:
    """The contract of model ``name``; InvalidParameterError naming the choices when it is unknown."""
    if not isinstance(name, str) or name not in RESTORERS:
        raise InvalidParameterError(
            f"face restoration model {quoted(name)} is unknown; choose one of {', '.join(RESTORE_MODELS)}")
    return RESTORERS[name]


def template(size: int) -> np.ndarray:
    """[5,2] target keypoints in a ``size`` x ``size`` crop."""
    return FFHQ_512 * (size / 512.0)
