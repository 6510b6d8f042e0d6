"""Issue 12 item 11: an item's input photos go as soon as it ends, however it ends; job files are private."""

from __future__ import annotations

import stat

from playalter.runner.server.jobs.store import JobStore

PLAN = {"bindings": {}, "hide_titles": []}


def new_job(store: JobStore, items: int = 3):
    job, _ = store.create(key_id="k", operation="detect", workflow="detect_faces", plan=PLAN,
                          item_images=[{"image": bytes([index]) * 10} for index in range(items)])
    return job


def inputs_left(store: JobStore, job_id: str) -> list[int]:
    return sorted(int(folder.parent.name) for folder in (store.root / job_id).glob("*/input"))


def test_inputs_go_when_an_item_completes_or_fails(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store)
    assert inputs_left(store, job.id) == [0, 1, 2]
    store.start_item(job.id, 0)
    store.finish_item(job.id, 0, result={"images": []}, ttl_seconds=60)
    store.start_item(job.id, 1)
    store.finish_item(job.id, 1, error={"code": "node_failed", "message": "x"}, ttl_seconds=60)
    assert inputs_left(store, job.id) == [2]
    store.close()


def test_inputs_of_cancelled_items_go_at_once(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store)
    store.start_item(job.id, 0)
    store.cancel(job.id, ttl_seconds=60)
    assert inputs_left(store, job.id) == [0]  # the running item keeps its input until it ends
    store.finish_item(job.id, 0, state="cancelled", error={"code": "cancelled", "message": "x"}, ttl_seconds=60)
    assert inputs_left(store, job.id) == []
    store.close()


def test_inputs_of_items_given_up_after_restarts_go(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, items=2)
    for _ in range(2):  # the process dies twice while item 0 runs
        store.start_item(job.id, 0)
        store.recover(ttl_seconds=60)
    assert store.get(job.id).items[0].state == "failed"
    assert inputs_left(store, job.id) == [1]
    store.close()


def test_a_crash_between_the_end_of_an_item_and_its_clean_up_is_swept_at_start(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, items=1)
    store.start_item(job.id, 0)
    store.finish_item(job.id, 0, result={}, ttl_seconds=60)
    left_behind = store.item_dir(job.id, 0) / "input"
    left_behind.mkdir()
    (left_behind / "0.bin").write_bytes(b"photo")
    store.recover(ttl_seconds=60)
    assert not left_behind.exists()
    store.close()


def test_job_files_and_folders_are_private(tmp_path):
    store = JobStore(tmp_path)
    job = new_job(store, items=1)
    assert stat.S_IMODE((tmp_path / "jobs.sqlite3").stat().st_mode) == 0o600
    for path in [store.root, *store.root.rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, f"{path.relative_to(tmp_path)}"
    assert (store.item_dir(job.id, 0) / "input" / "0.bin").read_bytes() == b"\x00" * 10
    store.close()


def test_keys_created_from_the_cli_before_any_start_are_private(tmp_path, capsys):
    from playalter.runner.cli.main import main

    database = tmp_path / "fresh" / "keys.sqlite3"
    assert main(["keys", "create", "--db", str(database), "--tier", "basic"]) == 0
    capsys.readouterr()
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
