"""A bounded pool of worker threads for the CPU work of the service.

The event loop never runs a workflow: items go to ``workers`` threads (the
executor keeps its per-run state thread-local, and numpy, OpenCV and
onnxruntime release the GIL while they compute). At most ``workers +
queue_size`` items are admitted at once; ``reserve`` refuses more with
``QueueFull``, which the API answers with 503 and a Retry-After estimated
from recent item durations.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ....pipelines.runtime import onnx_runtime


def share_cores(workers: int, onnx_threads: int = 0) -> int:
    """Give each worker's onnxruntime sessions its share of the cores (process-wide); return the thread count.

    onnxruntime uses every core for one run by default; with several workers
    running at once that oversubscribes the cores and its spinning threads
    waste them. ``onnx_threads`` (setting ``server.onnx_threads``) overrides
    the share when non-zero.
    """
    threads = onnx_threads or max(1, (os.cpu_count() or 1) // max(1, workers))
    onnx_runtime.set_default_threads(threads)
    return threads


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the work queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


class WorkerPool:
    def __init__(self, workers: int, queue_size: int):
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue_size)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="playalter-worker")
        self._lock = threading.Lock()
        self._admitted = 0  # reserved and not yet finished
        self._running = 0
        self._mean_seconds = 1.0  # moving average of item durations, for Retry-After

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        """Admitted items waiting for a worker (the queue depth)."""
        return self._admitted - self._running

    def reserve(self, count: int, *, force: bool = False) -> None:
        """Admit ``count`` items, or raise QueueFull; ``force`` admits regardless (jobs resumed at start-up)."""
        with self._lock:
            if not force and self._admitted + count > self.capacity:
                raise QueueFull(self._retry_after())
            self._admitted += count

    def release(self, count: int = 1) -> None:
        """Give back reservations that will not run."""
        with self._lock:
            self._admitted -= count

    def run(self, function: Callable[..., Any], *args: Any) -> asyncio.Future:
        """Run one reserved item on a worker thread; its reservation ends when the function returns."""
        return asyncio.get_running_loop().run_in_executor(self._executor, self._call, function, args)

    def _call(self, function: Callable[..., Any], args: tuple) -> Any:
        with self._lock:
            self._running += 1
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            seconds = time.perf_counter() - started
            with self._lock:
                self._running -= 1
                self._admitted -= 1
                self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * seconds

    def _retry_after(self) -> int:
        waiting = max(self._admitted - self.workers, 1)
        return max(1, math.ceil(self._mean_seconds * waiting / self.workers))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
