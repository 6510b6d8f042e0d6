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
        if event.kind == "node_start" and not self.interactive:
            self.stream.write(
                f"[{event.nodes_done + 1}/{event.nodes_total}] {event.class_type} (node {event.node_id})\n"
            )
        if not self.interactive or event.kind not in ("node_start", "node_progress", "node_finish"):
            return
        fraction = event.nodes_done / max(event.nodes_total, 1)
        if event.kind == "node_progress" and event.max:
            fraction += event.value / event.max / max(event.nodes_total, 1)
        filled = int(round(fraction * self.width))
        label = f"{event.class_type} (node {event.node_id})" if event.kind != "node_finish" else "done"
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {int(fraction * 100):3d}% {label:<48.48}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
