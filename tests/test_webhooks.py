"""Webhooks: signed per Standard Webhooks, checked targets, durable deliveries with backoff, sent once.

Every delivery goes to a receiver on 127.0.0.1 (``webhook_receiver.py``), which the service reaches only with
``webhooks.allow_private_targets`` on. The backoff schedule is stepped through with the deliverer's clock.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import aiohttp
import pytest

from playalter.runner.server.http.auth import SECURITY
from playalter.runner.server.jobs.dispatcher import DISPATCHER
from playalter.runner.server.jobs.store import JobStore
from playalter.runner.server.storage.database import Database
from playalter.runner.server.webhooks import deliveries, sender
from playalter.runner.server.webhooks.deliverer import WebhookDeliverer
from playalter.runner.server.webhooks.signing import PREVIOUS_SECRET_SECONDS, SecretStore
from playalter.runner.server.webhooks.targets import WebhookTargetError, address_refusal, check_url
from server_app_helpers import b64, bearer, make_settings, png_bytes, running_app, wait_finished
from webhook_receiver import webhook_receiver

pytestmark = pytest.mark.timeout(180)


def _verify(secret: str, received) -> dict:
    """The body as the independent implementation of the specification reads it (it raises when unsigned)."""
    standardwebhooks = pytest.importorskip("standardwebhooks")
    return standardwebhooks.Webhook(secret).verify(received.body, received.headers)


def _stored_job(store: JobStore, url: str) -> str:
    """A one-item job with a webhook, its item finished (so its event is stored); its id."""
    job, _ = store.create(key_id="k1", operation="detect", workflow="copy_image", plan={"bindings": {}},
                          item_images=[{"image": b"x"}], webhook_url=url)
    store.finish_item(job.id, 0, result={"images": [], "json": [], "seconds": 0.0}, ttl_seconds=3600)
    return job.id


# --- where a webhook may go ---------------------------------------------------------------------------

@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("10.1.2.3", "private"),
    ("192.168.0.10", "private"), ("172.16.5.4", "private"), ("fd12::1", "private"), ("169.254.10.1", "link-local"),
    ("fe80::1", "link-local"), ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("224.0.0.251", "multicast"), ("0.0.0.0", "unspecified"), ("100.64.0.1", "not a public"),
])
def test_internal_addresses_are_refused(address, kind):
    assert kind in address_refusal(address)


def test_public_addresses_and_http_urls_pass():
    assert address_refusal("93.184.215.14") is None and address_refusal("2606:2800:21f:cb07::1") is None
    assert check_url("https://hooks.example.com/x?y=1") == ("hooks.example.com", 443)
    for url in ("ftp://example.com/", "file:///etc/passwd", "https:///path", "http://example.com:99999/",
                "http://exa mple.com/", "https://example.com/" + "a" * 2100):
        with pytest.raises(WebhookTargetError):
            check_url(url)


def test_refused_urls_are_400_at_submission(tmp_path):
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            body = {"images_base64": [b64(png_bytes())], "operation": "detect"}
            for url, words in (("http://127.0.0.1:9/hook", "loopback"), ("http://localhost/hook", "loopback"),
                               ("http://169.254.169.254/latest", "metadata"), ("ftp://example.com/", "http://"),
                               ("http://name.invalid/", "does not resolve")):
                answer = await client.post("/api/batch/process", headers=bearer(key), json={**body, "webhook_url": url})
                error = (await answer.json())["error"]
                assert answer.status == 400 and error["code"] == "invalid_webhook_url" and words in error["message"]
            waiting = await client.post("/api/workflows/copy_image/run", headers=bearer(key),
                                        json={"images": {"image": b64(png_bytes())},
                                              "webhook_url": "https://example.com/hook"})
            assert waiting.status == 400 and "Prefer: respond-async" in (await waiting.json())["error"]["message"]

    asyncio.run(scenario())


# --- deliveries through the service -------------------------------------------------------------------

def test_a_job_webhook_is_signed_verified_shown_and_audited(tmp_path):
    async def scenario():
        settings = make_settings(tmp_path, WEBHOOKS__ALLOW_PRIVATE_TARGETS="true")
        async with webhook_receiver() as receiver, running_app(settings) as (client, app, key):
            receiver.body = b"r" * 5000  # only the first kB is kept
            body = {"images_base64": [b64(png_bytes(seed=1)), b64(png_bytes(seed=2))], "operation": "detect",
                    "webhook_url": receiver.url}
            batch = await client.post("/api/batch/process", headers=bearer(key), json=body)
            assert batch.status == 202, await batch.text()
            job_id = (await batch.json())["id"]
            await wait_finished(client, key, job_id)
            (delivery,) = await receiver.wait_for(1)
            secret = (await (await client.get("/api/webhooks/secret", headers=bearer(key))).json())["secret"]
            assert secret.startswith("whsec_")
            event = _verify(secret, delivery)
            assert event["type"] == "job.completed" and event["data"]["id"] == job_id
            assert event["data"]["state"] == "completed" and event["data"]["progress"]["completed"] == 2
            assert event["data"]["links"]["self"] == f"/api/jobs/{job_id}"
            assert delivery.headers["webhook-id"].startswith("msg_")
            assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 60
            for _ in range(100):  # the attempt is recorded just after the receiver answered
                job = await (await client.get(f"/api/jobs/{job_id}", headers=bearer(key))).json()
                if job["webhooks"][0]["state"] != "pending":
                    break
                await asyncio.sleep(0.05)
            (shown,) = job["webhooks"]
            assert (shown["id"], shown["event"], shown["state"]) == (delivery.headers["webhook-id"], "job.completed",
                                                                     "delivered")
            assert [(attempt["status"], len(attempt["response"])) for attempt in shown["attempts"]] == [(200, 1024)]
            assert shown["next_attempt_at"] is None and job["webhook_url"] == receiver.url
            with app[SECURITY].audit.db.transaction() as tx:
                rows = tx.execute("SELECT key_id, outcome, status, parameters FROM audit_log"
                                  " WHERE operation = 'webhook.delivery'").fetchall()
            assert [(row["outcome"], row["status"]) for row in rows] == [("ok", 200)]
            assert json.loads(rows[0]["parameters"])["job_id"] == job_id

    asyncio.run(scenario())


def test_a_video_job_takes_its_webhook_url_from_its_options(tmp_path, t1_path):
    from conftest import read_rgb
    from mp4_clip import write_clip

    clip = write_clip(tmp_path / "clip.mp4", read_rgb(t1_path), frames=4, fps=12).read_bytes()

    async def scenario():
        settings = make_settings(tmp_path, WEBHOOKS__ALLOW_PRIVATE_TARGETS="true")
        async with webhook_receiver() as receiver, running_app(settings) as (client, app, key):
            form = aiohttp.FormData()
            form.add_field("options", json.dumps({"mask_type": "solid", "webhook_url": receiver.url}),
                           content_type="application/json")
            form.add_field("video", clip, filename="clip.mp4", content_type="video/mp4")
            answer = await client.post("/api/video/anonymize", headers=bearer(key), data=form)
            job = await answer.json()
            assert answer.status == 202 and job["webhook_url"] == receiver.url, job
            assert (await wait_finished(client, key, job["id"]))["state"] == "completed"
            (delivery,) = await receiver.wait_for(1)
            event = json.loads(delivery.body)
            assert (event["type"], event["data"]["id"], event["data"]["operation"]) == (
                "job.completed", job["id"], "video.anonymize")
            assert "webhook_url" not in app[DISPATCHER].store.get(job["id"]).plan["bindings"]

    asyncio.run(scenario())


def test_prefer_respond_async_answers_202_with_the_job_on_every_single_call(tmp_path):
    async def scenario():
        settings = make_settings(tmp_path, WEBHOOKS__ALLOW_PRIVATE_TARGETS="true")
        async with webhook_receiver() as receiver, running_app(settings) as (client, app, key):
            image = b64(png_bytes())
            calls = [("/api/workflows/copy_image/run", {"images": {"image": image}}),
                     ("/api/face/analyze", {"image_base64": image}),
                     ("/api/privacy/mask", {"image_base64": image}),
                     ("/api/face/swap", {"source_image_base64": image, "target_image_base64": image})]
            headers = {**bearer(key), "Prefer": "wait=10, respond-async"}
            job_ids = []
            for path, body in calls:
                answer = await client.post(path, headers=headers, json={**body, "webhook_url": receiver.url})
                job = await answer.json()
                assert answer.status == 202, (path, job)
                assert answer.headers["Location"] == f"/api/jobs/{job['id']}" == job["links"]["self"]
                assert answer.headers["Preference-Applied"] == "respond-async"
                job_ids.append(job["id"])
            copied = await wait_finished(client, key, job_ids[0])
            assert copied["state"] == "completed" and copied["items"][0]["result"]["images"]
            for job_id in job_ids[1:]:
                await wait_finished(client, key, job_id)
            received = await receiver.wait_for(len(job_ids))
            assert sorted(json.loads(entry.body)["data"]["id"] for entry in received) == sorted(job_ids)

    asyncio.run(scenario())


def test_rotation_keeps_the_old_secret_for_a_day_and_sends_both_signatures(tmp_path):
    async def scenario():
        settings = make_settings(tmp_path, WEBHOOKS__ALLOW_PRIVATE_TARGETS="true")
        async with webhook_receiver() as receiver, running_app(settings) as (client, app, key):
            old = (await (await client.get("/api/webhooks/secret", headers=bearer(key))).json())["secret"]
            rotated = await client.post("/api/webhooks/secret/rotate", headers=bearer(key))
            new = await rotated.json()
            assert rotated.status == 200 and new["secret"] != old
            assert new["previous_expires_at"] == pytest.approx(time.time() + PREVIOUS_SECRET_SECONDS, abs=60)
            run = await client.post("/api/workflows/copy_image/run", headers={**bearer(key), "Prefer": "respond-async"},
                                    json={"images": {"image": b64(png_bytes())}, "webhook_url": receiver.url})
            assert run.status == 202
            (delivery,) = await receiver.wait_for(1)
            assert len(delivery.headers["webhook-signature"].split(" ")) == 2
            assert _verify(old, delivery) == _verify(new["secret"], delivery)

    asyncio.run(scenario())
    secrets = SecretStore(Database(tmp_path / "alone.sqlite3"))
    from playalter.runner.server.storage import migrations

    migrations.upgrade(secrets.db, "jobs", [["CREATE TABLE jobs (id TEXT PRIMARY KEY)"]])
    migrations.upgrade(secrets.db, "webhooks", deliveries.MIGRATIONS)
    first = secrets.current("k", now=1000.0).secret
    second = secrets.rotate("k", now=2000.0).secret
    assert secrets.signing("k", now=2000.0 + PREVIOUS_SECRET_SECONDS - 1) == [second, first]
    assert secrets.signing("k", now=2000.0 + PREVIOUS_SECRET_SECONDS + 1) == [second]
    third = secrets.rotate("k", now=3000.0).secret  # a second rotation ends the first secret at once
    assert secrets.signing("k", now=3001.0) == [third, second]


# --- durability, backoff, targets at delivery, one sender per event ---------------------------------------

def test_each_way_a_job_ends_stores_one_event(tmp_path):
    store = JobStore(tmp_path)
    url = "https://hooks.example.com/h"
    completed = _stored_job(store, url)
    failed, _ = store.create(key_id="k1", operation="detect", workflow="copy_image", plan={"bindings": {}},
                             item_images=[{"image": b"x"}], webhook_url=url)
    store.finish_item(failed.id, 0, error={"code": "invalid_image", "message": "not an image"}, ttl_seconds=3600)
    cancelled, _ = store.create(key_id="k1", operation="detect", workflow="copy_image", plan={"bindings": {}},
                                item_images=[{"image": b"x"}, {"image": b"y"}], webhook_url=url)
    store.cancel(cancelled.id, 3600)
    store.cancel(cancelled.id, 3600)  # settling again stores nothing more
    silent, _ = store.create(key_id="k1", operation="detect", workflow="copy_image", plan={"bindings": {}},
                             item_images=[{"image": b"x"}])
    store.finish_item(silent.id, 0, result={"images": [], "json": [], "seconds": 0.0}, ttl_seconds=3600)
    with store.db.transaction() as tx:
        rows = tx.execute("SELECT job_id, event, body FROM webhook_deliveries ORDER BY created_at").fetchall()
    assert [(row["job_id"], row["event"]) for row in rows] == [
        (completed, "job.completed"), (failed.id, "job.failed"), (cancelled.id, "job.cancelled")]
    failed_event = json.loads(rows[1]["body"])["data"]
    assert failed_event["error"]["code"] == "all_items_failed" and failed_event["progress"]["failed"] == 1
    assert json.loads(rows[2]["body"])["data"]["progress"] == {"total": 2, "queued": 0, "running": 0,
                                                               "completed": 0, "failed": 0, "cancelled": 2}
    store.close()


def test_failed_attempts_back_off_survive_a_restart_and_end_failed(tmp_path):
    async def scenario():
        async with webhook_receiver() as receiver:
            receiver.status = 500
            store = JobStore(tmp_path)
            job_id = _stored_job(store, receiver.url)
            now = time.time()
            deliverer = WebhookDeliverer(store.db, None, allow_private=True, clock=lambda: now)
            schedule = []
            for attempt in range(1, deliveries.MAX_ATTEMPTS + 1):
                if attempt == 3:  # a restart: a new process, a new connection, the same rows
                    store.close()
                    store = JobStore(tmp_path)
                    deliverer = WebhookDeliverer(store.db, None, allow_private=True, clock=lambda: now)
                assert await deliverer.deliver_due() == (["pending"] if attempt < deliveries.MAX_ATTEMPTS else
                                                         ["failed"])
                (shown,) = deliveries.for_job(store.db, job_id)
                if shown["next_attempt_at"] is not None:
                    delay = shown["next_attempt_at"] - now
                    schedule.append(delay)
                    now += delay - 1
                    assert await deliverer.deliver_due() == []  # not due yet
                    now += 1
            assert len(receiver.received) == deliveries.MAX_ATTEMPTS >= 5
            assert len({entry.headers["webhook-id"] for entry in receiver.received}) == 1
            assert schedule[0] <= 10 and sum(schedule) >= 3600 and schedule == sorted(schedule)
            assert shown["state"] == "failed" and [a["status"] for a in shown["attempts"]] == [500] * 7
            store.close()

    asyncio.run(scenario())


def test_at_delivery_a_private_address_redirects_and_long_answers_are_handled(tmp_path):
    async def scenario():
        async with webhook_receiver() as receiver:
            store = JobStore(tmp_path)
            refused = _stored_job(store, receiver.url)  # as if its name now resolved to 127.0.0.1
            guarded = WebhookDeliverer(store.db, None, allow_private=False)
            assert await guarded.deliver_due() == ["pending"]
            (shown,) = deliveries.for_job(store.db, refused)
            assert shown["attempts"][0]["status"] is None and "loopback" in shown["attempts"][0]["error"]
            assert receiver.received == []
            receiver.status, receiver.headers = 302, {"Location": receiver.url + "/elsewhere"}
            redirected = _stored_job(store, receiver.url)
            with store.db.transaction() as tx:  # only the second job's event is due
                tx.execute("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE job_id = ?", (1e12, refused))
            assert await WebhookDeliverer(store.db, None, allow_private=True).deliver_due() == ["pending"]
            assert [entry.path for entry in receiver.received] == ["/hook"]  # the redirect was not followed
            assert deliveries.for_job(store.db, redirected)[0]["attempts"][0]["status"] == 302
            store.close()

    asyncio.run(scenario())


def test_the_connection_goes_to_the_address_that_was_checked():
    async def scenario():
        async with webhook_receiver() as receiver:
            port = receiver.url.split(":")[2].split("/")[0]
            loop = asyncio.get_running_loop()
            answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]])

            async def rebinding_dns(host, *args, **kwargs):  # a second look-up would point elsewhere
                assert host == "hooks.rebind.test"
                return next(answers, [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", int(port)))])

            loop.getaddrinfo = rebinding_dns
            attempt = await sender.post(f"http://hooks.rebind.test:{port}/hook", b"{}", {}, allow_private=True)
            assert attempt.status == 200 and receiver.received[0].headers["Host"].startswith("hooks.rebind.test")

    asyncio.run(scenario())


def test_two_senders_on_one_database_send_each_event_once(tmp_path):
    async def scenario():
        async with webhook_receiver() as receiver:
            store = JobStore(tmp_path)
            job_ids = [_stored_job(store, receiver.url) for _ in range(20)]
            other = Database(tmp_path / "jobs.sqlite3")  # a second process's connection to the same file
            senders = [WebhookDeliverer(store.db, None, allow_private=True),
                       WebhookDeliverer(other, None, allow_private=True)]
            for _ in range(3):
                await asyncio.gather(*(sender.deliver_due() for sender in senders))
            ids = [entry.headers["webhook-id"] for entry in receiver.received]
            assert len(ids) == len(set(ids)) == len(job_ids)
            assert all(deliveries.for_job(store.db, job_id)[0]["state"] == "delivered" for job_id in job_ids)
            other.close()
            store.close()

    asyncio.run(scenario())
