"""A one-line progress bar on a text stream, fed with the executor's ProgressEvents."""

from __future__ import annotations

from typing import TextIO


class ProgressBar:
    width = 24

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.interactive = stream.isatty()
        self.drawn = False

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
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {int(fraction * 100):3d}% {label:<48.48}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
