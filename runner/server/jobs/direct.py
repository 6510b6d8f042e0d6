"""Every job kind run by a function instead of a saved workflow (``item_runs.DirectRun``), by job workflow name:
the video pipelines and the fused analysis of several photos."""

from __future__ import annotations

from . import fused_analysis, video_jobs
from .item_runs import DirectRun


def direct_runs(settings) -> dict[str, DirectRun]:
    return {**video_jobs.direct_runs(settings), **fused_analysis.direct_runs(settings)}
