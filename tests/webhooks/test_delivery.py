"""Webhook deliveries end to end: real database, real in-process queue, a real receiver that
verifies Standard Webhooks signatures."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from trax import errors
from trax.db import utcnow
from trax.engine.options import TranscribeOptions
from trax.jobs import batch
from trax.jobs import service as jobs
from trax.jobs.models import Job, JobStatus
from trax.pagination import PageRequest
from trax.queue import Queue
from trax.runtime import Runtime
from trax.webhooks import service as webhooks
from trax.webhooks.models import DeliveryStatus, WebhookEndpoint
from trax.webhooks.schemas import DeliveryView, EndpointUpdate
from trax.webhooks.tasks import run_delivery

from ..conftest import free_port
from .conftest import Dripper, Receiver, make_user

pytestmark = pytest.mark.anyio
DATA = {"job": {"id": "j1", "status": "succeeded"}}


async def add_endpoint(
    rt: Runtime, owner_id: str, url: str, event_types: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    async with rt.db.session() as s:
        return await webhooks.create_endpoint(
            s, owner_id, url, "test receiver", event_types or [], allow_loopback=True
        )


async def emit(
    rt: Runtime, owner_id: str | None, event_id: str, event_type: str = "job.succeeded"
) -> list[jobs.JobRef]:
    async with rt.db.session() as s:
        return await webhooks.emit(s, owner_id, event_type, event_id, DATA)


async def deliver(rt: Runtime, queue: Queue, refs: list[jobs.JobRef]) -> list[Job]:
    """Enqueue after the commit and wait until every job has finished."""
    queue.enqueue(refs)
    with anyio.fail_after(60):
        return await batch.wait(rt, [r.id for r in refs])


async def deliveries(rt: Runtime, owner_id: str, endpoint_id: str) -> list[DeliveryView]:
    async with rt.db.session() as s:
        page = PageRequest(limit=50)
        return (await webhooks.list_deliveries(s, owner_id, endpoint_id, page))[0]


async def test_a_delivery_arrives_signed_and_verifies(
    jobs_env: tuple[Runtime, Queue], receiver: Receiver
) -> None:
    rt, queue = jobs_env
    owner = await make_user(rt)
    endpoint, secret = await add_endpoint(rt, owner, receiver.url)
    assert secret.startswith("whsec_")
    (done,) = await deliver(rt, queue, await emit(rt, owner, "job-1:succeeded"))
    assert done.status is JobStatus.SUCCEEDED
    assert done.kind == jobs.WEBHOOK
    (request,) = receiver.received
    assert request.path == "/hooks"
    assert request.headers["content-type"] == "application/json"
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "job.succeeded"
    assert payload["data"] == DATA
    assert payload["timestamp"].endswith("Z")
    (delivery,) = await deliveries(rt, owner, endpoint.id)
    assert delivery.status is DeliveryStatus.SUCCEEDED
    assert delivery.message_id == request.headers["webhook-id"]
    assert delivery.job_id == done.id
    (attempt,) = delivery.attempt_log
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, None)
    assert attempt.response_excerpt == "thanks"


async def test_tampering_a_wrong_secret_and_replays_fail_verification(
    jobs_env: tuple[Runtime, Queue], receiver: Receiver
) -> None:
    rt, queue = jobs_env
    owner = await make_user(rt)
    _, secret = await add_endpoint(rt, owner, receiver.url)
    await deliver(rt, queue, await emit(rt, owner, "job-2:succeeded"))
    (request,) = receiver.received
    body, headers = request.body, request.headers
    Webhook(secret).verify(body, headers)
    tampered = body.replace(b"succeeded", b"failed")
    assert tampered != body
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(webhooks.new_secret()).verify(body, headers)
    # A captured request replayed later: its signed timestamp is too old, and a fresh
    # timestamp does not match the signature.
    old = webhooks.signed_headers(secret, headers["webhook-id"], utcnow() - timedelta(minutes=10),
                                  body.decode())  # fmt: skip
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, old)
    refreshed = {**old, "webhook-timestamp": headers["webhook-timestamp"]}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(body, refreshed)


async def test_failures_are_retried_with_the_same_message_id(
    jobs_env: tuple[Runtime, Queue], receiver: Receiver
) -> None:
    rt, queue = jobs_env
    owner = await make_user(rt)
    endpoint, secret = await add_endpoint(rt, owner, receiver.url)
    receiver.script = [500, 503]
    (done,) = await deliver(rt, queue, await emit(rt, owner, "job-3:failed", "job.failed"))
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 3
    received = receiver.received
    assert len(received) == 3
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert len({r.body for r in received}) == 1  # the same bytes, signed afresh each time
    for r in received:
        Webhook(secret).verify(r.body, r.headers)
    (delivery,) = await deliveries(rt, owner, endpoint.id)
    assert delivery.status is DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 3
    assert [(a.number, a.status_code) for a in delivery.attempt_log] == [
        (1, 500),
        (2, 503),
        (3, 200),
    ]
    assert delivery.attempt_log[0].error == "the server answered HTTP 500"


async def test_a_delivery_fails_after_its_last_attempt(
    jobs_env: tuple[Runtime, Queue], receiver: Receiver
) -> None:
    rt, queue = jobs_env
    owner = await make_user(rt)
    endpoint, _ = await add_endpoint(rt, owner, receiver.url)
    receiver.script = [500, 500, 500, 500]
    (done,) = await deliver(rt, queue, await emit(rt, owner, "job-4:failed", "job.failed"))
    assert done.status is JobStatus.FAILED
    assert done.error_kind == "outbound_unavailable"
    assert done.error_message == f"{receiver.url}: the server answered HTTP 500"
    assert len(receiver.received) == 3
    (delivery,) = await deliveries(rt, owner, endpoint.id)
    assert delivery.status is DeliveryStatus.FAILED
    assert [a.status_code for a in delivery.attempt_log] == [500, 500, 500]
    async with rt.db.session() as s:
        assert (await webhooks.get_endpoint(s, owner, endpoint.id)).enabled  # only 410 disables


async def test_410_disables_the_endpoint_and_nothing_more_is_sent(
    jobs_env: tuple[Runtime, Queue], receiver: Receiver
) -> None:
    rt, queue = jobs_env
    owner = await make_user(rt)
    endpoint, _ = await add_endpoint(rt, owner, receiver.url)
    receiver.script = [410]
    (done,) = await deliver(rt, queue, await emit(rt, owner, "job-5:succeeded"))
    assert done.status is JobStatus.FAILED
    assert len(receiver.received) == 1
    async with rt.db.session() as s:
        gone = await webhooks.get_endpoint(s, owner, endpoint.id)
    assert not gone.enabled
    assert gone.disabled_reason is not None
    assert "410" in gone.disabled_reason
    (delivery,) = await deliveries(rt, owner, endpoint.id)
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.FAILED, 410)
    assert await emit(rt, owner, "job-6:succeeded") == []
    async with rt.db.session() as s:
        with pytest.raises(errors.ConflictError, match="disabled"):
            await webhooks.send_test(s, owner, endpoint.id)
        await webhooks.update_endpoint(s, owner, endpoint.id, EndpointUpdate(enabled=True), True)
    (again,) = await deliver(rt, queue, await emit(rt, owner, "job-7:succeeded"))
    assert again.status is JobStatus.SUCCEEDED
    assert len(receiver.received) == 2


async def test_an_event_is_delivered_once_per_endpoint(
    jobs_env: tuple[Runtime, Queue], receiver: Receiver
) -> None:
    rt, queue = jobs_env
    owner = await make_user(rt)
    other = await make_user(rt, "grace@example.com")
    first, _ = await add_endpoint(rt, owner, receiver.url)
    second, _ = await add_endpoint(rt, owner, receiver.url + "/second")
    await add_endpoint(rt, owner, receiver.url + "/failures", ["job.failed"])
    await add_endpoint(rt, other, receiver.url + "/someone-else")
    refs = await emit(rt, owner, "job-8:succeeded")
    assert len(refs) == 2
    assert await emit(rt, owner, "job-8:succeeded") == []  # emitted again: nothing new
    assert await emit(rt, None, "job-8:succeeded") == []  # jobs without an owner tell no one
    await deliver(rt, queue, refs)
    assert sorted(r.path for r in receiver.received) == ["/hooks", "/hooks/second"]
    assert len(await deliveries(rt, owner, first.id)) == 1
    assert len(await deliveries(rt, owner, second.id)) == 1
    async with rt.db.session() as s:
        with pytest.raises(errors.NotFoundError):
            await webhooks.list_deliveries(s, other, first.id, PageRequest())


async def test_redelivered_cancelled_and_orphaned_jobs_send_nothing(
    jobs_env: tuple[Runtime, Queue], receiver: Receiver
) -> None:
    rt, queue = jobs_env
    owner = await make_user(rt)
    endpoint, _ = await add_endpoint(rt, owner, receiver.url)
    (sent,) = await deliver(rt, queue, await emit(rt, owner, "job-9:succeeded"))
    assert await run_delivery(rt, queue, sent.id) is None  # a duplicate message: no-op
    (cancelled,) = await emit(rt, owner, "job-10:succeeded")
    async with rt.db.session() as s:
        await jobs.cancel(s, cancelled.id)
    assert await run_delivery(rt, queue, cancelled.id) is None
    (orphan,) = await emit(rt, owner, "job-11:succeeded")
    async with rt.db.session() as s:
        await webhooks.delete_endpoint(s, owner, endpoint.id)
    (skipped,) = await deliver(rt, queue, [orphan])
    assert (skipped.status, skipped.stage) == (JobStatus.SUCCEEDED, "skipped")
    assert len(receiver.received) == 1


async def test_a_disabled_endpoint_gets_nothing(
    jobs_env: tuple[Runtime, Queue], receiver: Receiver
) -> None:
    rt, queue = jobs_env
    owner = await make_user(rt)
    endpoint, _ = await add_endpoint(rt, owner, receiver.url)
    (ref,) = await emit(rt, owner, "job-12:succeeded")
    async with rt.db.session() as s:
        await webhooks.update_endpoint(s, owner, endpoint.id, EndpointUpdate(enabled=False), True)
    (done,) = await deliver(rt, queue, [ref])
    assert (done.status, done.error_kind) == (JobStatus.FAILED, "endpoint_disabled")
    assert receiver.received == []
    (delivery,) = await deliveries(rt, owner, endpoint.id)
    assert (delivery.status, delivery.attempt_log) == (DeliveryStatus.FAILED, [])


async def test_loopback_targets_are_refused_unless_allowed(
    runtime: Runtime, receiver: Receiver
) -> None:
    owner = await make_user(runtime)
    async with runtime.db.session() as s:
        for url in (receiver.url, "http://localhost:9/hooks", "http://169.254.169.254/"):
            with pytest.raises(errors.UnsafeUrlError):
                await webhooks.create_endpoint(s, owner, url, None, [], allow_loopback=False)
    # Created while allowed, delivered by a worker that does not allow it: refused, not sent.
    endpoint, _ = await add_endpoint(runtime, owner, receiver.url)
    (ref,) = await emit(runtime, owner, "job-13:succeeded")
    strict = runtime.settings.model_copy(update={"outbound_allow_loopback": False})
    done = await run_delivery(dataclasses.replace(runtime, settings=strict), _NoBroker(), ref.id)
    assert done is not None
    assert (done.status, done.error_kind) == (JobStatus.FAILED, "unsafe_url")
    assert done.error_message is not None
    assert "loopback" in done.error_message
    assert receiver.received == []
    (delivery,) = await deliveries(runtime, owner, endpoint.id)
    assert delivery.status is DeliveryStatus.FAILED
    (attempt,) = delivery.attempt_log
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "refused before connecting" in attempt.error


async def test_unreachable_receivers_are_retried_then_fail(runtime: Runtime) -> None:
    owner = await make_user(runtime)
    endpoint, _ = await add_endpoint(runtime, owner, f"http://127.0.0.1:{free_port()}/hooks")
    (ref,) = await emit(runtime, owner, "job-14:succeeded")
    for _ in range(2):
        with pytest.raises(errors.TransientJobError, match="cannot connect"):
            await run_delivery(runtime, _NoBroker(), ref.id)
    done = await run_delivery(runtime, _NoBroker(), ref.id)
    assert done is not None
    assert (done.status, done.attempts) == (JobStatus.FAILED, 3)
    (delivery,) = await deliveries(runtime, owner, endpoint.id)
    assert [a.number for a in delivery.attempt_log] == [1, 2, 3]
    assert all(a.status_code is None for a in delivery.attempt_log)


def with_settings(rt: Runtime, **changes: object) -> Runtime:
    return dataclasses.replace(rt, settings=rt.settings.model_copy(update=changes))


async def test_a_dripping_receiver_times_out_at_the_deadline(
    runtime: Runtime, dripper: Dripper
) -> None:
    """A byte every 0.3 s keeps each read under the 5 s read timeout; the attempt still ends at
    its 1 s deadline, as a timeout, logged and retried like any other."""
    rt = with_settings(runtime, webhook_deadline_seconds=1.0)
    owner = await make_user(rt)
    endpoint, _ = await add_endpoint(rt, owner, dripper.url)
    (ref,) = await emit(rt, owner, "job-15:succeeded")
    with (
        anyio.fail_after(6),
        pytest.raises(errors.TransientJobError, match="no complete answer within 1 s"),
    ):
        await run_delivery(rt, _NoBroker(), ref.id)
    (delivery,) = await deliveries(rt, owner, endpoint.id)
    assert delivery.status is DeliveryStatus.PENDING  # to be tried again
    (attempt,) = delivery.attempt_log
    assert attempt.status_code is None
    assert attempt.error == "no complete answer within 1 s"
    async with rt.db.session() as s:
        job = await jobs.get(s, ref.id)
    assert (job.status, job.error_kind) == (JobStatus.QUEUED, "outbound_unavailable")


async def test_slow_receivers_never_take_the_transcription_threads(
    jobs_env: tuple[Runtime, Queue], dripper: Dripper, media: Path
) -> None:
    """Deliveries to a receiver that never finishes fill the webhook pool; a transcription
    job submitted meanwhile still starts and finishes."""
    rt, queue = jobs_env
    assert (rt.settings.worker_threads, rt.settings.webhook_worker_threads) == (2, 1)
    owner = await make_user(rt)
    for n in range(4):
        await add_endpoint(rt, owner, f"{dripper.url}/{n}")
    queue.enqueue(await emit(rt, owner, "job-16:succeeded"))
    with anyio.fail_after(10):
        while dripper.requests < 1:
            await anyio.sleep(0.05)
    (job,) = await batch.submit(rt, queue, [media / "jfk.flac"], TranscribeOptions(model="tiny.en"))
    with anyio.fail_after(60):
        (done,) = await batch.wait(rt, [job.id])
    assert done.status is JobStatus.SUCCEEDED
    # It did not wait for a delivery to give up: the first is still being dripped to, and no
    # attempt has ended yet.
    async with rt.db.session() as s:
        endpoints = await webhooks.list_endpoints(s, owner, PageRequest(limit=10))
    for endpoint in endpoints[0]:
        (delivery,) = await deliveries(rt, owner, endpoint.id)
        assert (delivery.status, delivery.attempt_log) == (DeliveryStatus.PENDING, [])
    assert dripper.requests == 1  # one webhook thread: the other deliveries wait their turn


async def test_the_body_is_stable_json() -> None:
    payload: dict[str, Any] = {"type": "ping", "timestamp": "t", "data": {"b": 1, "a": "é"}}
    body = webhooks.body_of(payload)
    assert body == '{"data":{"a":"é","b":1},"timestamp":"t","type":"ping"}'
    assert json.loads(body) == payload


class _NoBroker:
    """Webhook jobs never enqueue anything themselves (retries go through the broker)."""

    def enqueue(self, jobs: object) -> None:
        raise AssertionError("not expected")

    def held_job_ids(self) -> set[str]:
        return set()
