"""The CUDA devices the NVIDIA driver reports, asked of the driver library itself.

Both runtimes need this answer (onnxruntime's CUDA provider, torch's accelerator) and neither may
import the other for it; asking the driver through ctypes needs no CUDA toolkit and loads nothing heavy.
"""

from __future__ import annotations

import ctypes
import sys


def device_count() -> int:
    """CUDA devices the NVIDIA driver reports (0 without a driver)."""
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            driver = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    return 0
