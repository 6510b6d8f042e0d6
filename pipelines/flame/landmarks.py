"""PLAYALTER's 68 iBUG landmarks on FLAME topology, and the maps from other landmark schemes onto them.

Every point is a surface point of the FLAME head: a triangle of FLAME's ``f`` and barycentric weights of
its three corners, so it follows the mesh through shape, expression and pose. The definition was derived
from the FLAME mean head (``tools/derive_flame_landmarks.py``, rules in its docstring and in
docs/flame.md): eye corners where the lid crease fades, lids on the border of the visible eyeball,
nose points on the midline depth profile and the alar grooves, mouth corners where the lip crease fades,
lips at their most anterior points, brows on the crest of the brow ridge, and the 17 jaw-contour points on
the frontal outline of the face.

The jaw contour depends on the view: for each contour point ``CONTOUR_CANDIDATES`` lists the head vertices
that can form the silhouette there as the head turns; the fitter picks one per point and pose (see
``pipelines.flame.fitting``). ``ANTHROPOMETRIC_POINTS`` are the Farkas landmarks the measurements use
(``pupil_*`` are eyeball vertices, weight 1 on the first corner id).

iBUG numbering is 1-based in the literature; arrays here are 0-based (iBUG point k is row k-1). "Right"
is the subject's right (image left in a frontal photo), as in the iBUG markup.

``mediapipe_468()`` is the dense set: the MediaPipe Face Mesh vertices that have a place on FLAME's face,
each as a FLAME triangle and barycentric weights, with a per-point weight (0.5 for silhouette points), from
``mediapipe468_on_flame.npz`` (derived by ``tools/derive_flame_dense_landmarks.py``, see docs/flame.md).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

MEDIAPIPE_TABLE = Path(__file__).with_name("mediapipe468_on_flame.npz")

IBUG68_TRIANGLES = (
    2880, 3402, 8462, 8452, 8447, 3395, 8455, 8384, 8243, 3112,
    3195, 3300, 8189, 3165, 3848, 387, 1363, 1802, 225, 7918,
    8839, 8809, 3839, 8905, 7326, 5107, 391, 390, 1180, 3742,
    8800, 7338, 7342, 3688, 1521, 3525, 1681, 2462, 8789, 8730,
    6701, 8542, 8820, 3169, 6076, 2707, 3695, 6195, 2226, 2294,
    8627, 393, 393, 1065, 1083, 3607, 3739, 8799, 8671, 2435,
    2226, 7393, 5608, 3157, 1083, 971, 5568, 2436,
)
IBUG68_BARYCENTRIC = (
    (0.0136, 0.7689, 0.2175),
    (0.3555, 0.2084, 0.4361),
    (0.1823, 0.0146, 0.8031),
    (0.0127, 0.0898, 0.8975),
    (0.0115, 0.7913, 0.1973),
    (0.0589, 0.5705, 0.3706),
    (0.2773, 0.0335, 0.6892),
    (0.0440, 0.7838, 0.1722),
    (0.0310, 0.9442, 0.0247),
    (0.0440, 0.1722, 0.7838),
    (0.2773, 0.6892, 0.0335),
    (0.5705, 0.0589, 0.3706),
    (0.1973, 0.7913, 0.0115),
    (0.0127, 0.8975, 0.0898),
    (0.1823, 0.8031, 0.0146),
    (0.2084, 0.3555, 0.4361),
    (0.7689, 0.0136, 0.2175),
    (0.0188, 0.1763, 0.8049),
    (0.0187, 0.4872, 0.4941),
    (0.6235, 0.3190, 0.0575),
    (0.8576, 0.0729, 0.0695),
    (0.1129, 0.8766, 0.0105),
    (0.1129, 0.0105, 0.8766),
    (0.0695, 0.0729, 0.8576),
    (0.0575, 0.3190, 0.6235),
    (0.0187, 0.4941, 0.4872),
    (0.1763, 0.0188, 0.8049),
    (0.0685, 0.2424, 0.6891),
    (0.7680, 0.0621, 0.1700),
    (0.0564, 0.0917, 0.8519),
    (0.0347, 0.9045, 0.0608),
    (0.0326, 0.4869, 0.4805),
    (0.0274, 0.8402, 0.1323),
    (0.1378, 0.6486, 0.2136),
    (0.0274, 0.1323, 0.8402),
    (0.0326, 0.4805, 0.4869),
    (0.4491, 0.3206, 0.2303),
    (0.5887, 0.4102, 0.0010),
    (0.0315, 0.2555, 0.7130),
    (0.2260, 0.7623, 0.0117),
    (0.3427, 0.0970, 0.5603),
    (0.0934, 0.7976, 0.1090),
    (0.0117, 0.7623, 0.2260),
    (0.0315, 0.7130, 0.2555),
    (0.5887, 0.0010, 0.4102),
    (0.3206, 0.4491, 0.2303),
    (0.0934, 0.1090, 0.7976),
    (0.5603, 0.0970, 0.3427),
    (0.2005, 0.2837, 0.5158),
    (0.4708, 0.5051, 0.0241),
    (0.8341, 0.0312, 0.1347),
    (0.0439, 0.1038, 0.8523),
    (0.8341, 0.1347, 0.0312),
    (0.5051, 0.4708, 0.0241),
    (0.2837, 0.2005, 0.5158),
    (0.0312, 0.7409, 0.2279),
    (0.0050, 0.2779, 0.7170),
    (0.0404, 0.0504, 0.9092),
    (0.0050, 0.7170, 0.2779),
    (0.7409, 0.0312, 0.2279),
    (0.2005, 0.2837, 0.5158),
    (0.3633, 0.5271, 0.1096),
    (0.0388, 0.7188, 0.2425),
    (0.3633, 0.1096, 0.5271),
    (0.2837, 0.2005, 0.5158),
    (0.0483, 0.5673, 0.3843),
    (0.0493, 0.5035, 0.4472),
    (0.5673, 0.0483, 0.3843),
)
ANTHROPOMETRIC_POINTS = {
    "ex_r": (1681, (0.4491, 0.3206, 0.2303)),
    "en_r": (8730, (0.2260, 0.7623, 0.0117)),
    "en_l": (8820, (0.0117, 0.7623, 0.2260)),
    "ex_l": (2707, (0.3206, 0.4491, 0.2303)),
    "prn": (8800, (0.0347, 0.9045, 0.0608)),
    "sn": (8758, (0.0413, 0.0138, 0.9450)),
    "n": (390, (0.0685, 0.2424, 0.6891)),
    "al_r": (2738, (0.6105, 0.3492, 0.0404)),
    "al_l": (6278, (0.6105, 0.0404, 0.3492)),
    "ch_r": (2226, (0.2005, 0.2837, 0.5158)),
    "ch_l": (1083, (0.2837, 0.2005, 0.5158)),
    "sto": (5608, (0.0388, 0.0380, 0.9232)),
    "ls": (393, (0.0439, 0.1038, 0.8523)),
    "li": (8799, (0.0404, 0.0504, 0.9092)),
    "gn": (8243, (0.0310, 0.9442, 0.0247)),
    "zy_r": (2880, (0.2263, 0.3305, 0.4431)),
    "zy_l": (1363, (0.3305, 0.2263, 0.4431)),
    "go_r": (8457, (0.1325, 0.6403, 0.2272)),
    "go_l": (8362, (0.2272, 0.6403, 0.1325)),
    "ft_r": (2461, (0.0750, 0.0557, 0.8693)),
    "ft_l": (6410, (0.0285, 0.8372, 0.1342)),
    "pupil_r": (4597, (1.0000, 0.0000, 0.0000)),
    "pupil_l": (4051, (1.0000, 0.0000, 0.0000)),
}
CONTOUR_CANDIDATES = (
    (2017, 2020, 2181, 2182, 2183, 2184, 2320, 2707, 3123, 3129, 3133, 3710, 3711, 3744, 3747, 3770, 3784,),
    (2018, 2019, 2185, 2399, 2401, 2706, 3117, 3124, 3127,),
    (2711, 3115, 3116, 3118, 3439, 3475, 3476,),
    (2722, 3114, 3435, 3438, 3440, 3471, 3473,),
    (2824, 3433, 3434, 3437, 3466, 3467, 3469, 3470, 3474,),
    (2732, 2733, 2734, 2735, 3390, 3432, 3464, 3465, 3793,),
    (2709, 2875, 2876, 2900, 2943, 2945, 3391, 3409, 3410, 3418, 3429,),
    (2903, 3395, 3396, 3405, 3406, 3415, 3416, 3426,),
    (3399, 3400, 3401, 3404, 3414, 3442, 3487, 3499,),
    (1800, 3598, 3599, 3611, 3614, 3634, 3635, 3654,),
    (1573, 1767, 1768, 1797, 1860, 1862, 3593, 3625, 3626, 3637, 3658,),
    (1596, 1597, 1598, 1599, 3588, 3662, 3714, 3715, 3916,),
    (1707, 3663, 3664, 3667, 3716, 3717, 3724, 3725, 3730,),
    (1586, 2079, 3665, 3670, 3672, 3726, 3728,),
    (1575, 2080, 2081, 2083, 3671, 3734, 3737,),
    (590, 591, 688, 1087, 1092, 1570, 2082, 2097, 2100,),
    (589, 592, 680, 681, 682, 683, 942, 1571, 2096, 2102, 2106, 3866, 3867, 3882, 3884, 3898, 3910,),
)


# Subject-side mirror partner of each of the 68 points (0-based), for symmetry checks.
MIRROR = (
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
    27, 28, 29, 30, 35, 34, 33, 32, 31,
    45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
    64, 63, 62, 61, 60, 67, 66, 65,
)

JAW = tuple(range(0, 17))
RIGHT_BROW, LEFT_BROW = tuple(range(17, 22)), tuple(range(22, 27))
NOSE = tuple(range(27, 36))
RIGHT_EYE, LEFT_EYE = tuple(range(36, 42)), tuple(range(42, 48))
MOUTH = tuple(range(48, 68))


@functools.lru_cache(maxsize=1)
def mediapipe_468() -> dict[str, np.ndarray]:
    """The dense table: mesh_index [L] (MediaPipe vertex), triangle [L] (FLAME triangle), barycentric [L,3],
    weight [L]; dropped [D] MediaPipe vertices without a FLAME place and dropped_reason [D]."""
    with np.load(MEDIAPIPE_TABLE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
