"""Two attempts at the same video item (a worker taken for dead after its lease that still runs, and the worker
that took the item over): the superseded attempt cannot write into the video the other one finished."""

from __future__ import annotations

import hashlib
import threading

from conftest import read_rgb
from mp4_clip import count_frames, write_clip
from server_app_helpers import make_settings

from playalter.runner.server.schemas import VIDEO_ANONYMIZE_OPTIONS, validate
from playalter.runner.server.jobs.video_jobs import ANONYMIZE, direct_runs

FRAMES = 24


def test_a_superseded_attempt_does_not_touch_the_video_of_the_attempt_that_took_over(tmp_path, t1_path):
    clip = write_clip(tmp_path / "clip.mp4", read_rgb(t1_path), frames=FRAMES, fps=12, width=160, height=120)
    run = direct_runs(make_settings(tmp_path))[ANONYMIZE].run
    plan = {"bindings": validate(VIDEO_ANONYMIZE_OPTIONS, {}, "options")}
    item_dir = tmp_path / "job" / "0"
    paused, resume = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def stalled_progress(data: dict) -> None:  # the first attempt stops after its first frame, file open
        paused.set()
        resume.wait(120)

    def first_attempt() -> None:
        try:
            outcome["result"] = run(plan, {"video": clip}, item_dir, cancel_event=threading.Event(),
                                    on_progress=stalled_progress)
        except Exception as error:
            outcome["error"] = error

    first = threading.Thread(target=first_attempt)
    first.start()
    try:
        assert paused.wait(120), "the first attempt did not start"
        result = run(plan, {"video": clip}, item_dir, cancel_event=threading.Event(), on_progress=lambda data: None)
        final = item_dir / result["video"]["file"]
        assert count_frames(final) == FRAMES
        finished = hashlib.sha256(final.read_bytes()).hexdigest()
    finally:
        resume.set()
        first.join(120)
    assert isinstance(outcome.get("error"), FileNotFoundError), outcome  # its folder was taken away
    assert hashlib.sha256(final.read_bytes()).hexdigest() == finished, "the superseded attempt wrote into the video"
    assert count_frames(final) == FRAMES
    assert [path.relative_to(item_dir).as_posix() for path in item_dir.rglob("*")] == ["output",
                                                                                       "output/anonymized.mp4"]
