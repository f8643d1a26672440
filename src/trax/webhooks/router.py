"""``/api/v1/webhooks``: a user's endpoints, their delivery log, and a test event."""

from __future__ import annotations

from functools import cache

import anyio.to_thread
from fastapi import APIRouter, Response, status

from trax.config import Settings
from trax.deps import CurrentUser, PageParams, Rt, UoW
from trax.pagination import Page
from trax.ratelimit import RateLimiter
from trax.webhooks import service as webhooks
from trax.webhooks.schemas import (
    DeliveryView,
    EndpointCreate,
    EndpointCreated,
    EndpointUpdate,
    EndpointView,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
TOO_MANY_TEST_EVENTS = "too many test events for this endpoint; try again in {seconds} s"


@cache
def _test_events(settings: Settings) -> RateLimiter:
    """One counter of test events per settings (per app), shared by the app's requests."""
    limit = settings.webhook_test_rate_limit
    return RateLimiter(settings, limit, "webhook-test", TOO_MANY_TEST_EVENTS)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_endpoint(body: EndpointCreate, user: CurrentUser, rt: Rt) -> EndpointCreated:
    """Register a receiver URL. The answer holds the signing secret: it is shown only once.
    Private, loopback and link-local targets are refused."""
    async with rt.db.session() as s:
        endpoint, secret = await webhooks.create_endpoint(
            s, user.id, body.url, body.description, [str(t) for t in body.event_types],
            allow_loopback=rt.settings.outbound_allow_loopback,
        )  # fmt: skip
        view = EndpointView.model_validate(endpoint)
    return EndpointCreated(**view.model_dump(), secret=secret)


@router.get("")
async def list_endpoints(user: CurrentUser, rt: Rt, page: PageParams) -> Page[EndpointView]:
    async with rt.db.session() as s:
        rows, cursor = await webhooks.list_endpoints(s, user.id, page)
        return Page(items=[EndpointView.model_validate(e) for e in rows], next_cursor=cursor)


@router.get("/{endpoint_id}")
async def get_endpoint(endpoint_id: str, user: CurrentUser, rt: Rt) -> EndpointView:
    async with rt.db.session() as s:
        return EndpointView.model_validate(await webhooks.get_endpoint(s, user.id, endpoint_id))


@router.patch("/{endpoint_id}")
async def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, user: CurrentUser, rt: Rt
) -> EndpointView:
    """Change the URL, description or event types, or enable or disable the endpoint (one
    disabled after a 410 answer is re-enabled with ``{"enabled": true}``)."""
    async with rt.db.session() as s:
        endpoint = await webhooks.update_endpoint(
            s, user.id, endpoint_id, body, allow_loopback=rt.settings.outbound_allow_loopback
        )
        return EndpointView.model_validate(endpoint)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(endpoint_id: str, user: CurrentUser, rt: Rt) -> Response:
    """Delete the endpoint and its delivery log; nothing more is sent to it."""
    async with rt.db.session() as s:
        await webhooks.delete_endpoint(s, user.id, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{endpoint_id}/deliveries")
async def list_deliveries(
    endpoint_id: str, user: CurrentUser, rt: Rt, page: PageParams
) -> Page[DeliveryView]:
    """The endpoint's deliveries, newest first, each with every attempt."""
    async with rt.db.session() as s:
        items, cursor = await webhooks.list_deliveries(s, user.id, endpoint_id, page)
    return Page(items=items, next_cursor=cursor)


@router.post("/{endpoint_id}/test", status_code=status.HTTP_202_ACCEPTED)
async def send_test_event(endpoint_id: str, user: CurrentUser, rt: Rt, uow: UoW) -> DeliveryView:
    """Queue a ``ping`` event to the endpoint; follow it in the delivery log. At most
    ``TRAX_WEBHOOK_TEST_RATE_LIMIT`` per endpoint: beyond, 429 with ``Retry-After``."""
    await anyio.to_thread.run_sync(_test_events(rt.settings).hit, user.id, endpoint_id)
    delivery, job = await webhooks.send_test(uow.session, user.id, endpoint_id)
    uow.enqueue([job])
    return delivery
