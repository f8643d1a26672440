"""Webhook endpoints, events and the delivery log (Standard Webhooks).

An event becomes one delivery row per subscribed endpoint, unique on (endpoint, event id), and a
``webhook`` job that sends it; the job is enqueued by the caller after its unit of work commits.
Every delivery has a stable message id (the ``webhook-id`` header, the same on every attempt) so
receivers can drop duplicates, and every attempt is logged.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from trax import errors, outbound
from trax.db import new_id, utcnow
from trax.jobs import service as jobs
from trax.pagination import PageRequest, paged
from trax.webhooks import repository
from trax.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trax.webhooks.schemas import AttemptView, DeliveryView, EndpointUpdate, EventType

ENDPOINT_NOT_FOUND = "no webhook endpoint with id {endpoint_id!r}"
ENDPOINT_DISABLED = "webhook endpoint {endpoint_id} is disabled: {reason}"
DISABLED_BY_USER = "disabled by its owner"
GONE = "the receiver answered 410 Gone at {when}; re-enable the endpoint to send again"
NOT_SENT = "{url}: not sent, the endpoint is disabled ({reason})"
PING_MESSAGE = "a test event from Trax"
SECRET_PREFIX = "whsec_"
EXCERPT_CHARS = 500


# --- endpoints ---------------------------------------------------------------------------------


def new_secret() -> str:
    """A signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


async def create_endpoint(
    session: AsyncSession,
    owner_id: str,
    url: str,
    description: str | None,
    event_types: Sequence[str],
    allow_loopback: bool,
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its secret (show it once). Refuses unsafe URLs."""
    outbound.check_url(url, allow_loopback=allow_loopback)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        owner_id=owner_id,
        url=url,
        description=description,
        secret=secret,
        event_types=list(dict.fromkeys(event_types)),
        enabled=True,
    )
    await repository.add(session, endpoint)
    return endpoint, secret


async def get_endpoint(session: AsyncSession, owner_id: str, endpoint_id: str) -> WebhookEndpoint:
    """The endpoint, if ``owner_id`` owns it; another owner's endpoint is not found."""
    endpoint = await repository.get_endpoint(session, endpoint_id)
    if endpoint is None or endpoint.owner_id != owner_id:
        raise errors.NotFoundError(ENDPOINT_NOT_FOUND.format(endpoint_id=endpoint_id))
    return endpoint


async def list_endpoints(
    session: AsyncSession, owner_id: str, page: PageRequest
) -> tuple[list[WebhookEndpoint], str | None]:
    rows = await repository.list_endpoints(session, owner_id, page)
    return paged(rows, page)


async def update_endpoint(
    session: AsyncSession,
    owner_id: str,
    endpoint_id: str,
    changes: EndpointUpdate,
    allow_loopback: bool,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, owner_id, endpoint_id)
    if changes.url is not None:
        outbound.check_url(changes.url, allow_loopback=allow_loopback)
        endpoint.url = changes.url
    if "description" in changes.model_fields_set:
        endpoint.description = changes.description
    if changes.event_types is not None:
        endpoint.event_types = list(dict.fromkeys(str(t) for t in changes.event_types))
    if changes.enabled is not None:
        endpoint.enabled = changes.enabled
        endpoint.disabled_reason = None if changes.enabled else DISABLED_BY_USER
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, owner_id: str, endpoint_id: str) -> None:
    """Delete the endpoint and its delivery log; its pending jobs find nothing to send."""
    await repository.delete(session, await get_endpoint(session, owner_id, endpoint_id))


async def list_deliveries(
    session: AsyncSession, owner_id: str, endpoint_id: str, page: PageRequest
) -> tuple[list[DeliveryView], str | None]:
    """The endpoint's deliveries, newest first, each with its attempts."""
    await get_endpoint(session, owner_id, endpoint_id)
    rows, cursor = paged(await repository.list_deliveries(session, endpoint_id, page), page)
    attempts = await repository.attempts_of(session, [d.id for d in rows])
    return [_delivery_view(d, attempts[d.id]) for d in rows], cursor


def _delivery_view(delivery: WebhookDelivery, attempts: Sequence[WebhookAttempt]) -> DeliveryView:
    view = DeliveryView.model_validate(delivery)
    return view.model_copy(
        update={"attempt_log": [AttemptView.model_validate(a) for a in attempts]}
    )


# --- events ------------------------------------------------------------------------------------


def _subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return not endpoint.event_types or event_type in endpoint.event_types


async def emit(
    session: AsyncSession,
    owner_id: str | None,
    event_type: str,
    event_id: str,
    data: dict[str, Any],
) -> list[jobs.JobRef]:
    """Deliver an event to every enabled endpoint of ``owner_id`` subscribed to its type.

    ``event_id`` identifies the event: emitting it again creates no second delivery to an
    endpoint. Returns the new jobs, to enqueue after the caller's unit of work commits.
    """
    if owner_id is None:
        return []
    endpoints = await repository.enabled_endpoints(session, owner_id)
    wanted = [e for e in endpoints if _subscribed(e, event_type)]
    return [ref for _, ref in await _deliver(session, wanted, event_type, event_id, data)]


async def send_test(
    session: AsyncSession, owner_id: str, endpoint_id: str
) -> tuple[DeliveryView, jobs.JobRef]:
    """A ``ping`` event to this one endpoint (whatever it subscribes to): its delivery, and
    the job to enqueue after the commit."""
    endpoint = await get_endpoint(session, owner_id, endpoint_id)
    if not endpoint.enabled:
        reason = endpoint.disabled_reason or DISABLED_BY_USER
        raise errors.ConflictError(ENDPOINT_DISABLED.format(endpoint_id=endpoint.id, reason=reason))
    data = {"endpoint_id": endpoint.id, "message": PING_MESSAGE}
    ((delivery_id, ref),) = await _deliver(
        session, [endpoint], EventType.PING, f"ping:{new_id()}", data
    )
    delivery = await repository.get_delivery(session, delivery_id)
    assert delivery is not None
    return _delivery_view(delivery, []), ref


async def _deliver(
    session: AsyncSession,
    endpoints: Sequence[WebhookEndpoint],
    event_type: str,
    event_id: str,
    data: dict[str, Any],
) -> list[tuple[str, jobs.JobRef]]:
    """A delivery and its job per endpoint that has none for this event yet."""
    stamp = utcnow().isoformat().replace("+00:00", "Z")
    payload = {"type": str(event_type), "timestamp": stamp, "data": data}
    created: list[tuple[str, jobs.JobRef]] = []
    for endpoint in endpoints:
        delivery_id = new_id()
        values = {
            "id": delivery_id,
            "endpoint_id": endpoint.id,
            "event_type": str(event_type),
            "event_id": event_id,
            "message_id": f"msg_{uuid.uuid4().hex}",
            "payload": payload,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
        }
        if not await repository.insert_delivery_once(session, values):
            continue  # this event already has a delivery to this endpoint
        options = {"delivery_id": delivery_id}
        job = await jobs.create(session, jobs.WEBHOOK, endpoint.url, options, endpoint.owner_id)
        await repository.set_delivery_job(session, delivery_id, job.id)
        created.append((delivery_id, jobs.JobRef.of(job)))
    return created


# --- sending -----------------------------------------------------------------------------------


def body_of(payload: dict[str, Any]) -> str:
    """The request body: compact JSON with sorted keys, so every attempt sends the same bytes
    whatever order the database keeps the keys in."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def signed_headers(secret: str, message_id: str, when: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers: id, timestamp (Unix seconds) and ``v1,<HMAC-SHA256>`` of
    ``{id}.{timestamp}.{body}`` with the endpoint's secret."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, when, body),
    }


@dataclass(frozen=True)
class Outgoing:
    """One attempt to make: where, what, and with which secret."""

    delivery_id: str
    endpoint_id: str
    url: str
    secret: str
    message_id: str
    body: str
    number: int


@dataclass(frozen=True)
class Skipped:
    """Nothing to send; ``failure`` says why when that is a failure of the delivery."""

    stage: str
    failure: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP answer, or an error (kind, message) without one."""

    duration_ms: int
    status_code: int | None = None
    excerpt: str | None = None
    error_kind: str | None = None
    error: str | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


async def prepare(session: AsyncSession, delivery_id: str) -> Outgoing | Skipped:
    """The next attempt of a delivery, or why there is none: the endpoint was deleted (with
    its deliveries), the delivery already succeeded, or the endpoint is disabled."""
    delivery = await repository.get_delivery(session, delivery_id)
    if delivery is None:
        return Skipped("skipped")
    if delivery.status is DeliveryStatus.SUCCEEDED:
        return Skipped("done")
    endpoint = await repository.get_endpoint(session, delivery.endpoint_id)
    if endpoint is None:
        return Skipped("skipped")
    if not endpoint.enabled:
        delivery.status, delivery.finished_at = DeliveryStatus.FAILED, utcnow()
        reason = endpoint.disabled_reason or DISABLED_BY_USER
        return Skipped("skipped", NOT_SENT.format(url=endpoint.url, reason=reason))
    delivery.status, delivery.finished_at = DeliveryStatus.PENDING, None
    return Outgoing(
        delivery_id=delivery.id,
        endpoint_id=endpoint.id,
        url=endpoint.url,
        secret=endpoint.secret,
        message_id=delivery.message_id,
        body=body_of(delivery.payload),
        number=delivery.attempts + 1,
    )


async def record_attempt(
    session: AsyncSession, out: Outgoing, outcome: Outcome, *, final: bool
) -> WebhookDelivery | None:
    """Log the attempt and move the delivery on: succeeded, failed (``final``, or 410, which
    also disables the endpoint) or still pending. None if the delivery was deleted meanwhile."""
    delivery = await repository.get_delivery(session, out.delivery_id)
    if delivery is None:
        return None
    await repository.add(
        session,
        WebhookAttempt(
            delivery_id=delivery.id,
            number=out.number,
            status_code=outcome.status_code,
            error=outcome.error[:1000] if outcome.error else None,
            duration_ms=outcome.duration_ms,
            response_excerpt=outcome.excerpt[:EXCERPT_CHARS] if outcome.excerpt else None,
        ),
    )
    delivery.attempts = out.number
    delivery.last_status_code = outcome.status_code
    if outcome.gone:
        await _disable(session, out.endpoint_id, GONE.format(when=utcnow().isoformat()))
    if outcome.ok:
        delivery.status, delivery.finished_at = DeliveryStatus.SUCCEEDED, utcnow()
    elif final or outcome.gone:
        delivery.status, delivery.finished_at = DeliveryStatus.FAILED, utcnow()
    await session.flush()
    return delivery


async def _disable(session: AsyncSession, endpoint_id: str, reason: str) -> None:
    endpoint = await repository.get_endpoint(session, endpoint_id)
    if endpoint is not None:
        endpoint.enabled, endpoint.disabled_reason = False, reason
