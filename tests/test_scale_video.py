"""Video jobs on the job queue: two API replicas (``serve --workers 0``) and two ``playalter worker`` processes on
one throwaway Postgres cluster, sharing a data folder. A video (anonymisation or swap) uploaded to one replica
runs on a worker, is followed over SSE and downloaded from the other replica; it can be cancelled from either; a
worker killed with kill -9 mid-video has the video finished by the other worker, audited once.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import urllib.request
import urllib.error
import uuid
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import read_rgb
from server_app_helpers import parse_sse
from test_scale_cluster import _auth, _rows, http, two_replicas_two_workers
from video_clips import audio_packets, read_frames, window, write_clip

pytestmark = pytest.mark.timeout(600)
SIZE = (160, 120)
AUDIO_SECONDS = 2.0
LONG_FRAMES = 480  # several seconds of work even at 160x120: time to cancel or kill its worker mid-video


def _frames(photo: np.ndarray, count: int) -> list[np.ndarray]:
    """A pan over the group photo, ``count`` frames."""
    return [window(photo, (0.3 + 0.4 * index / count, 0.45), 1.5, size=SIZE) for index in range(count)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory, t1_path) -> dict[str, Path]:
    """A short clip (16 frames, 2 s of AAC) and a longer one (``LONG_FRAMES``), both from the t1 group photo."""
    folder = tmp_path_factory.mktemp("clips")
    photo = read_rgb(t1_path)
    return {"short": write_clip(folder / "short.mp4", _frames(photo, 16), time_base=Fraction(1, 8),
                                audio_seconds=AUDIO_SECONDS),
            "long": write_clip(folder / "long.mp4", _frames(photo, LONG_FRAMES), time_base=Fraction(1, 8),
                               audio_seconds=AUDIO_SECONDS)}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with two_replicas_two_workers(tmp_path_factory, "scale-video") as running:
        yield running


def _submit(cluster, base: str, video: Path, options: dict | None = None, operation: str = "anonymize",
            **files: Path) -> dict:
    """POST the video (and ``files``: part name -> file) as multipart/form-data to ``/api/video/<operation>``."""
    boundary = uuid.uuid4().hex
    parts = [(f"--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n"
              f"Content-Type: application/json\r\n\r\n{json.dumps(options or {})}\r\n").encode()]
    for name, path in {"video": video, **files}.items():
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{path.name}\"\r\n"
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{base}/api/video/{operation}", data=body, method="POST", headers={
        **_auth(cluster), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    assert status == 202, answer
    return json.loads(answer)


def _follow(cluster, base: str, job_id: str) -> list[tuple[str, dict]]:
    status, body = http("GET", f"{base}/api/jobs/{job_id}/events", _auth(cluster), timeout=300)
    assert status == 200
    return parse_sse(body.decode())


def _first_progress(cluster, base: str, job_id: str) -> dict:
    """Follow the job's SSE stream until its first progress event (the worker is decoding frames)."""
    request = urllib.request.Request(f"{base}/api/jobs/{job_id}/events", headers=_auth(cluster))
    with urllib.request.urlopen(request, timeout=300) as response:
        event = None
        for line in response:
            text = line.decode().strip()
            if text.startswith("event: "):
                event = text[len("event: "):]
            elif text.startswith("data: ") and event == "progress":
                return json.loads(text[len("data: "):])
            elif event == "done":
                break
    raise AssertionError(f"job {job_id} ended without a progress event")


def _download(cluster, base: str, job_id: str, target: Path) -> tuple[int, bytes]:
    status, body = http("GET", f"{base}/api/jobs/{job_id}/download", _auth(cluster), timeout=120)
    if status == 200:
        target.write_bytes(body)
    return status, body


def _report(cluster, base: str, job_id: str) -> dict:
    status, body = http("GET", f"{base}/api/jobs/{job_id}", _auth(cluster))
    assert status == 200
    [report] = [entry["data"] for entry in json.loads(body)["items"][0]["result"]["json"]
                if entry["title"] == "video report"]
    return report


def _audit(cluster, job_id: str) -> list[tuple[dict, list, str]]:
    rows = _rows(cluster, "SELECT parameters, inputs, outcome FROM audit_log WHERE operation = 'job.video.anonymize'")
    return [(json.loads(parameters), json.loads(inputs), outcome) for parameters, inputs, outcome in rows
            if json.loads(parameters)["job_id"] == job_id]


def test_a_video_uploaded_to_one_replica_runs_on_a_worker_and_downloads_from_the_other(cluster, clips, tmp_path):
    api1, api2 = cluster.api
    job = _submit(cluster, api1, clips["short"], {"mask_type": "pixelate"})
    assert job["operation"] == "video.anonymize" and job["state"] in ("queued", "running")
    events = _follow(cluster, api2, job["id"])
    assert events[-1][0] == "done" and events[-1][1]["state"] == "completed", events
    progress = [data for event, data in events if event == "progress"]
    if events[0][1]["state"] == "queued":  # followed from the start: every progress event reached api2
        assert progress and progress[-1]["frames_done"] == progress[-1]["frames_total"] == 16
        assert all(entry["fps"] > 0 for entry in progress)

    status, _ = _download(cluster, api2, job["id"], tmp_path / "out.mp4")
    assert status == 200
    frames, _, _ = read_frames(tmp_path / "out.mp4")
    assert len(frames) == len(read_frames(clips["short"])[0]) == 16
    assert _report(cluster, api1, job["id"])["tracks"], "faces of the group photo were tracked and masked"
    codec, _, seconds = audio_packets(tmp_path / "out.mp4")
    assert codec == "aac" and seconds == pytest.approx(audio_packets(clips["short"])[2], abs=0.05)

    [(state, worker, attempts)] = _rows(cluster, "SELECT state, worker, attempts FROM items WHERE job_id = %s",
                                        job["id"])
    assert state == "completed" and attempts == 1 and worker in cluster.worker_pids().values()
    [(parameters, inputs, outcome)] = _audit(cluster, job["id"])
    assert outcome == "ok" and parameters["mask_type"] == "pixelate"
    assert inputs == [hashlib.sha256(clips["short"].read_bytes()).hexdigest()]
    assert not list((cluster.root / "shared" / "jobs" / job["id"]).glob("*/input/*")), "the upload is deleted"


def test_a_swap_video_job_runs_on_a_worker_with_its_source_photo(cluster, clips, t1_path, tmp_path):
    api1, api2 = cluster.api
    job = _submit(cluster, api2, clips["short"], {"target_tracks": [0]}, "swap", source=t1_path)
    events = _follow(cluster, api1, job["id"])
    assert events[-1][0] == "done" and events[-1][1]["state"] == "completed", events
    status, _ = _download(cluster, api1, job["id"], tmp_path / "swapped.mp4")
    assert status == 200 and len(read_frames(tmp_path / "swapped.mp4")[0]) == 16
    assert audio_packets(tmp_path / "swapped.mp4")[0] == "aac"
    assert _report(cluster, api2, job["id"])["tracks"], "faces of the group photo were tracked and swapped"
    [(worker,)] = _rows(cluster, "SELECT worker FROM items WHERE job_id = %s", job["id"])
    assert worker in cluster.worker_pids().values()


def test_a_video_job_cancelled_on_one_replica_stops_on_its_worker(cluster, clips):
    api1, api2 = cluster.api
    job = _submit(cluster, api2, clips["long"])
    _first_progress(cluster, api1, job["id"])
    status, body = http("DELETE", f"{api1}/api/jobs/{job['id']}", _auth(cluster))
    assert status == 200, body
    events = _follow(cluster, api2, job["id"])
    assert events[-1][0] == "done" and events[-1][1]["state"] == "cancelled", events
    assert _rows(cluster, "SELECT state FROM items WHERE job_id = %s", job["id"]) == [("cancelled",)]
    status, body = _download(cluster, api2, job["id"], Path(os.devnull))
    assert status == 409 and json.loads(body)["error"]["code"] == "no_result"
    assert list((cluster.root / "shared" / "jobs" / job["id"]).rglob("*.mp4")) == [], "no video, whole or partial"
    assert [outcome for _, _, outcome in _audit(cluster, job["id"])] == ["cancelled"]


def test_a_worker_killed_mid_video_has_the_video_finished_by_the_other_exactly_once(cluster, clips, tmp_path):
    api1, api2 = cluster.api
    job = _submit(cluster, api1, clips["long"])
    first = _first_progress(cluster, api2, job["id"])
    assert first["frames_done"] < first["frames_total"] == LONG_FRAMES
    [(state, dead)] = _rows(cluster, "SELECT state, worker FROM items WHERE job_id = %s", job["id"])
    owners = {worker: name for name, worker in cluster.worker_pids().items()}
    assert state == "running" and dead in owners
    name = owners[dead]
    os.kill(cluster.processes[name].pid, signal.SIGKILL)
    cluster.processes[name].wait()
    assert _rows(cluster, "SELECT state, worker FROM items WHERE job_id = %s", job["id"]) == [("running", dead)]
    status, body = _download(cluster, api1, job["id"], Path(os.devnull))  # nothing is presented as done
    assert status == 409 and json.loads(body)["error"]["code"] == "job_not_finished"

    events = _follow(cluster, api2, job["id"])
    assert events[-1][0] == "done" and events[-1][1]["state"] == "completed", events
    [(state, worker, attempts)] = _rows(cluster, "SELECT state, worker, attempts FROM items WHERE job_id = %s",
                                        job["id"])
    assert (state, attempts) == ("completed", 2) and worker != dead
    status, _ = _download(cluster, api2, job["id"], tmp_path / "out.mp4")
    assert status == 200 and len(read_frames(tmp_path / "out.mp4")[0]) == LONG_FRAMES
    assert audio_packets(tmp_path / "out.mp4")[0] == "aac"
    assert [outcome for _, _, outcome in _audit(cluster, job["id"])] == ["ok"]
    assert [path.name for path in (cluster.root / "shared" / "jobs" / job["id"]).rglob("*.mp4")] == ["anonymized.mp4"]


def test_uploads_cut_off_in_the_shared_staging_folder_are_deleted_and_uploads_arriving_are_kept(cluster):
    staging = cluster.root / "shared" / "jobs" / ".staging"
    staging.mkdir(mode=0o700, exist_ok=True)
    cut_off, arriving = staging / "cut-off.part", staging / "arriving.part"
    cut_off.write_bytes(b"half an upload of a replica killed an hour ago")
    arriving.write_bytes(b"an upload still arriving")
    os.utime(cut_off, (time.time() - 3600,) * 2)
    deadline = time.monotonic() + 60  # the replicas sweep every 10 s
    while cut_off.exists():
        assert time.monotonic() < deadline, "the cut-off upload was not deleted"
        time.sleep(0.5)
    assert arriving.read_bytes() == b"an upload still arriving"
