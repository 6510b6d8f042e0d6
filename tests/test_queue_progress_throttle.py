"""An item's progress events on the queue: at most one per interval, the last one never lost."""

from __future__ import annotations

import time

from playalter.runner.server.jobs.queue.events import ProgressThrottle


def test_a_burst_of_progress_sends_the_first_and_the_last_before_the_outcome():
    sent = []
    emit = ProgressThrottle(lambda event, data: sent.append((event, data["step"])), seconds=60.0)
    for step in range(12):  # a photo item: a dozen node events within the interval
        emit("progress", {"step": step})
    assert sent == [("progress", 0)]
    emit("item", {"step": "completed"})
    assert sent == [("progress", 0), ("progress", 11), ("item", "completed")]
    emit.flush()
    assert len(sent) == 3  # nothing held back twice


def test_progress_spread_over_time_is_sent_as_it_comes():
    sent = []
    emit = ProgressThrottle(lambda event, data: sent.append(data["step"]), seconds=0.05)
    for step in range(3):
        emit("progress", {"step": step})
        time.sleep(0.06)
    emit("progress", {"step": 3})
    emit.flush()
    assert sent == [0, 1, 2, 3]
