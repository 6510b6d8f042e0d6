"""Safe loading of FLAME model files (FLAME 2020 ``generic_model.pkl``, FLAME 2023 / 2023 Open ``.pkl``).

The official files are Python 2 pickles whose arrays are chumpy ``Ch`` objects and whose ``J_regressor``
is a scipy sparse matrix. Unpickling them normally needs chumpy installed and, worse, lets the file run
any code it likes. ``RestrictedUnpickler`` allows exactly the globals such a file needs, each replaced by
a harmless stand-in that keeps only array data, and refuses every other global: a malicious pickle fails
with ``ModelCorruptError`` before any of its code can run.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ModelCorruptError

log = logging.getLogger(__name__)

N_VERTICES = 5023
N_FACES = 9976
N_JOINTS = 5  # global (root), neck, jaw, left eye, right eye
N_SHAPE = 300
N_EXPRESSION = 100


class _Inert:
    """Stand-in for an allowed object: stores the state pickle hands it and runs nothing."""

    kind = ""

    def __init__(self, *args: Any, **kwargs: Any):
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_numpy(self) -> np.ndarray:
        state = self.state if isinstance(self.state, dict) else {}
        if self.kind == "chumpy" and "x" in state:  # a chumpy Ch keeps its array in 'x'
            return np.asarray(_plain(state["x"]))
        if self.kind == "chumpy" and {"a", "axes"} <= set(state):  # chumpy.reordering.transpose
            return np.transpose(np.asarray(_plain(state["a"])), state["axes"])
        if self.kind in ("csc", "csr") and {"data", "indices", "indptr"} <= set(state):
            return _compressed_to_dense(state, by_column=self.kind == "csc")
        if self.kind == "coo" and {"data", "row", "col"} <= set(state):
            dense = np.zeros(tuple(state["_shape"]), dtype=np.float64)
            np.add.at(dense, (np.asarray(state["row"]), np.asarray(state["col"])), np.asarray(state["data"]))
            return dense
        raise ModelCorruptError(f"the FLAME file holds a {self.kind or 'foreign'} object without array data")


class _Chumpy(_Inert):
    kind = "chumpy"


class _Csc(_Inert):
    kind = "csc"


class _Csr(_Inert):
    kind = "csr"


class _Coo(_Inert):
    kind = "coo"


def _compressed_to_dense(state: dict, by_column: bool) -> np.ndarray:
    """scipy CSC / CSR state -> dense [rows, cols]."""
    shape = tuple(state["_shape"])
    data, indices, indptr = (np.asarray(_plain(state[key])) for key in ("data", "indices", "indptr"))
    dense = np.zeros(shape, dtype=np.float64)
    for outer in range(len(indptr) - 1):
        span = slice(indptr[outer], indptr[outer + 1])
        if by_column:
            dense[indices[span], outer] = data[span]
        else:
            dense[outer, indices[span]] = data[span]
    return dense


def _plain(value: Any) -> Any:
    """Replace stand-ins inside a loaded structure by numpy arrays."""
    if isinstance(value, _Inert):
        return value.to_numpy()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _reconstruct(cls: Any, shape: Any, dtype: Any) -> Any:
    """numpy's ndarray reconstructor, allowed only for plain ndarray."""
    if cls is not np.ndarray:
        raise ModelCorruptError("the FLAME file asks to rebuild a non-array object; refused")
    return np.ndarray.__new__(cls, shape, dtype)


def _object_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """copyreg's reconstructor (how chumpy and scipy objects are pickled), allowed only for stand-ins."""
    if not (isinstance(cls, type) and issubclass(cls, _Inert)):
        raise ModelCorruptError("the FLAME file asks to rebuild a foreign object; refused")
    return cls()


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """How Python 3 pickles bytes at protocol 2 (``_codecs.encode``), allowed only for latin-1 text."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise ModelCorruptError("the FLAME file asks for an unexpected text encoding; refused")
    return text.encode("latin1")


def _from_buffer(buffer: bytes, dtype: np.dtype, shape: tuple, order: str) -> np.ndarray:
    """numpy's protocol-5 array reconstructor: plain bytes to an array."""
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _scalar(dtype: np.dtype, data: bytes | str = b"") -> Any:
    """numpy's scalar reconstructor; Python 2 pickles hand the raw bytes over as latin-1 text."""
    if isinstance(data, str):
        data = data.encode("latin1")
    return np.frombuffer(data, dtype=dtype, count=1)[0] if data else dtype.type(0)


# (module, name) -> what the unpickler hands back. Every other global is refused.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("copyreg", "_reconstructor"): _object_reconstructor,
    ("builtins", "object"): object,
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("chumpy.ch", "Ch"): _Chumpy,
    ("chumpy.reordering", "transpose"): _Chumpy,
}
for _numpy_core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_numpy_core}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED[(f"{_numpy_core}.multiarray", "scalar")] = _scalar
    _ALLOWED[(f"{_numpy_core}.numeric", "_frombuffer")] = _from_buffer
for _module in ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr",
                "scipy.sparse.coo", "scipy.sparse._coo"):
    _name = _module.rsplit(".", 1)[1].lstrip("_")
    _ALLOWED[(_module, f"{_name}_matrix")] = {"csc": _Csc, "csr": _Csr, "coo": _Coo}[_name]


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals FLAME files use, to inert stand-ins."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise ModelCorruptError(
                f"refused to load: the file asks for '{module}.{name}', which a FLAME model never contains. "
                "Only load FLAME files downloaded from https://flame.is.tue.mpg.de/"
            ) from None


@dataclass(frozen=True)
class FlameModel:
    """FLAME's arrays as plain numpy (metres).

    v_template   [V,3]         mean head, V = 5023
    f            [F,3]         triangles, F = 9976
    shapedirs    [V,3,S+E]     300 shape then 100 expression directions (FLAME 2020 ships 300 + 100)
    posedirs     [V*3,36]      pose-corrective directions, one per element of (R_j - I) for joints 1..4
    J_regressor  [5,V]         joint locations as a weighted sum of vertices
    weights      [V,5]         linear blend skinning weights
    kintree      [5]           parent joint of each joint (-1 for the root)
    source       path the model came from
    """

    v_template: np.ndarray
    f: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    kintree: np.ndarray
    source: str = ""

    @property
    def n_shape(self) -> int:
        return N_SHAPE

    @property
    def n_expression(self) -> int:
        return self.shapedirs.shape[2] - N_SHAPE


def _expect(name: str, array: np.ndarray, shape: tuple, path: Path) -> None:
    if array.shape != shape:
        raise ModelCorruptError(
            f"{path}: '{name}' has shape {array.shape}, FLAME has {shape}. Is this a FLAME 2020/2023 model file?"
        )


def load_flame(path: str | Path) -> FlameModel:
    """Load and validate a FLAME ``.pkl`` without chumpy and without running code from the file."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = RestrictedUnpickler(handle, encoding="latin1").load()
    except ModelCorruptError:
        raise
    except Exception as error:  # a truncated or foreign file: say so, not a pickle traceback
        raise ModelCorruptError(f"{path} is not a readable FLAME model file ({type(error).__name__}: {error})") from None
    if not isinstance(raw, dict):
        raise ModelCorruptError(f"{path} does not hold a FLAME model (expected a dict of arrays)")
    data = _plain(raw)
    missing = [key for key in ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
               if key not in data]
    if missing:
        raise ModelCorruptError(f"{path} lacks the FLAME arrays {', '.join(missing)}")
    arrays = {key: np.asarray(data[key]) for key in
              ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")}
    _expect("v_template", arrays["v_template"], (N_VERTICES, 3), path)
    _expect("f", arrays["f"], (N_FACES, 3), path)
    if arrays["shapedirs"].ndim != 3 or arrays["shapedirs"].shape[:2] != (N_VERTICES, 3) or (
            arrays["shapedirs"].shape[2] < N_SHAPE + 1):
        raise ModelCorruptError(
            f"{path}: 'shapedirs' has shape {arrays['shapedirs'].shape}; FLAME has (5023, 3, 400): "
            "300 shape + 100 expression directions"
        )
    posedirs = arrays["posedirs"].reshape(-1, arrays["posedirs"].shape[-1])  # FLAME stores [V,3,36]
    _expect("posedirs", posedirs, (N_VERTICES * 3, 36), path)
    _expect("J_regressor", arrays["J_regressor"], (N_JOINTS, N_VERTICES), path)
    _expect("weights", arrays["weights"], (N_VERTICES, N_JOINTS), path)
    _expect("kintree_table", arrays["kintree_table"], (2, N_JOINTS), path)
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1  # FLAME stores 2**32 - 1 for the root
    log.info("loaded FLAME model %s (%d expression components)", path, arrays["shapedirs"].shape[2] - N_SHAPE)
    return FlameModel(
        v_template=arrays["v_template"].astype(np.float64),
        f=arrays["f"].astype(np.int64),
        shapedirs=arrays["shapedirs"].astype(np.float64),
        posedirs=posedirs.astype(np.float64),
        J_regressor=arrays["J_regressor"].astype(np.float64),
        weights=arrays["weights"].astype(np.float64),
        kintree=parents,
        source=str(path),
    )


_cache: dict[str, FlameModel] = {}


def load_registered_flame(feature: str = "FLAME 3D fitting") -> FlameModel:
    """The FLAME model found through the model registry (cached per path); ModelMissingError when absent."""
    from ..models import resolve

    path = resolve("flame", feature)[0]
    key = str(path.resolve())
    if key not in _cache:
        _cache[key] = load_flame(path)
    return _cache[key]
