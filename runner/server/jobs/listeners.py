"""The event streams following each job (one asyncio queue per SSE client), for both dispatchers."""

from __future__ import annotations

import asyncio
from typing import Any


class JobListeners:
    """Queues of ``(event, data)`` per job id, each ended by ``None`` when the job settles. Event loop only."""

    def __init__(self) -> None:
        self._queues: dict[str, list[asyncio.Queue]] = {}

    def listen(self, job_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.setdefault(job_id, []).append(queue)
        return queue

    def unlisten(self, job_id: str, queue: asyncio.Queue) -> None:
        queues = self._queues.get(job_id, [])
        if queue in queues:
            queues.remove(queue)

    def publish(self, job_id: str, event: str, data: dict[str, Any]) -> None:
        for queue in self._queues.get(job_id, []):
            queue.put_nowait((event, data))

    def close(self, job_id: str) -> None:
        """End every stream of the job (after its last event) and forget them."""
        for queue in self._queues.pop(job_id, []):
            queue.put_nowait(None)

    def job_ids(self) -> set[str]:
        return set(self._queues)
