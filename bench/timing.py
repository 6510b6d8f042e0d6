"""The median wall-clock and CPU time of a call, for the bench scripts that report both."""

from __future__ import annotations

import statistics
import time


def median_ms(function, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU (process: all threads) milliseconds per call of ``function()`` over ``repeats``
    calls after one warm-up call. On a shared machine the CPU time is the fairer number: it does not count time
    spent waiting for a core."""
    function()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)
