"""The CLI's progress bar: one line on a text stream, redrawn in place.

``ProgressLine`` draws and ends the line; each kind of work words it: workflow
node steps (``ProgressBar``, fed the executor's ProgressEvents), video frames
(``FrameProgress``) and downloaded bytes (``DownloadProgress``).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """A line redrawn in place with ``\\r``; ``close()`` ends it with a newline once it was drawn."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.interactive = stream.isatty()
        self.drawn = False

    def redraw(self, text: str) -> None:
        self.stream.write(f"\r{text}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class ProgressBar(ProgressLine):
    """Workflow node steps: a filling bar on a terminal, a line per node elsewhere (logs stay readable)."""

    width = 24

    def __call__(self, event) -> None:
        if not self.interactive:
            if event.kind == "node_start":
                position = f"[{event.nodes_done + 1}/{event.nodes_total}]"
                self.stream.write(f"{position} {event.class_type} (node {event.node_id})\n")
            return
        if event.kind in ("node_start", "node_progress"):
            self._draw(event, f"{event.class_type} (node {event.node_id})")
        elif event.kind == "finish":
            self._draw(event, "done")

    def _draw(self, event, label: str) -> None:
        total = max(event.nodes_total, 1)
        fraction = event.nodes_done / total
        if event.kind == "node_progress" and event.max:
            fraction += event.value / event.max / total
        filled = int(round(fraction * self.width))
        self.redraw(f"[{'#' * filled}{'.' * (self.width - filled)}] {int(fraction * 100):3d}% {label:<48.48}")


class FrameProgress(ProgressLine):
    """``bar(done, total)`` for video frames: frames, frames per second, time left; at most every ``every`` s."""

    def __init__(self, name: str, stream: TextIO | None = None, every: float = 0.5):
        super().__init__(stream or sys.stderr)
        self.name, self.every = name, every
        self.started = time.monotonic()
        self.shown_at = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.shown_at < self.every and done != total:
            return
        self.shown_at = now
        fps = done / max(now - self.started, 1e-6)
        if total:
            left = max(total - done, 0) / fps if fps > 0 else 0
            text = f"{done}/{total} frames ({100 * min(done, total) // total}%)  {fps:.1f} fps  {_clock(left)} left"
        else:
            text = f"{done} frames  {fps:.1f} fps"
        self.redraw(f"{self.name}: {text}   ")


class DownloadProgress(ProgressLine):
    """``bar(done, total)`` for downloaded bytes: redrawn on a terminal, a line per 10% elsewhere."""

    width = 30

    def __init__(self, label: str, stream: TextIO | None = None):
        super().__init__(stream or sys.stderr)
        self.label = label
        self.started = time.monotonic()
        self.shown_at = -1.0
        self.last_decile = -1

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        fraction = done / total if total else None
        if self.interactive:
            if now - self.shown_at < 0.1 and done != total:
                return
            self.shown_at = now
            self.redraw(self._line(done, total, fraction, now))
            if done == total:
                self.close()
        elif fraction is not None and int(fraction * 10) != self.last_decile:
            self.last_decile = int(fraction * 10)
            self.stream.write(self._line(done, total, fraction, now) + "\n")
            self.stream.flush()

    def _line(self, done: int, total: int | None, fraction: float | None, now: float) -> str:
        speed = done / max(now - self.started, 1e-6) / 1e6
        if fraction is None:
            return f"{self.label}  {done / 1e6:.1f} MB  {speed:.1f} MB/s"
        filled = int(fraction * self.width)
        return (f"{self.label}  [{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:5.1f}%  "
                f"{done / 1e6:.1f}/{total / 1e6:.1f} MB  {speed:.1f} MB/s")


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"
