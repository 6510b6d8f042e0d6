"""Does this CPU have instructions that make int8 convolutions fast? (stdlib only: free to import)

onnxruntime's int8 kernels multiply-accumulate 8-bit values in one instruction where the CPU has VNNI
(x86: AVX512-VNNI or AVX-VNNI) or dot-product instructions (ARM64: ``asimddp``); with AVX2 alone they take
three, and the int8 model is then barely faster than the fp32 one (docs/privacy.md, "Speed").
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

FAST_INT8_FLAGS = {"avx512_vnni", "avx_vnni", "asimddp"}  # /proc/cpuinfo names


def cpu_flags(cpuinfo: str) -> set[str]:
    """The feature flags a /proc/cpuinfo text lists (x86 ``flags``, ARM ``Features``)."""
    flags = set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


@lru_cache(maxsize=1)
def fast_int8() -> bool:
    """True where onnxruntime's int8 kernels have VNNI or dot-product instructions to run on. Apple silicon
    always has them; elsewhere /proc/cpuinfo tells, and without it the answer is False (fp32, the safe side)."""
    if platform.system() == "Darwin":
        return platform.machine() == "arm64"
    try:
        return bool(cpu_flags(Path("/proc/cpuinfo").read_text()) & FAST_INT8_FLAGS)
    except OSError:
        return False
