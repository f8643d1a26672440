from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trax.db import insert_once
from trax.pagination import PageRequest, keyset
from trax.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


async def add(session: AsyncSession, row: WebhookEndpoint | WebhookAttempt) -> None:
    session.add(row)
    await session.flush()


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id)


async def list_endpoints(
    session: AsyncSession, owner_id: str, page: PageRequest
) -> list[WebhookEndpoint]:
    stmt = sa.select(WebhookEndpoint).where(WebhookEndpoint.owner_id == owner_id)
    stmt = keyset(stmt, WebhookEndpoint.created_at, WebhookEndpoint.id, page)
    return list((await session.scalars(stmt)).all())


async def enabled_endpoints(session: AsyncSession, owner_id: str) -> list[WebhookEndpoint]:
    stmt = (
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.owner_id == owner_id, WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list((await session.scalars(stmt)).all())


async def delete(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    await session.delete(endpoint)
    await session.flush()


async def insert_delivery_once(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a delivery unless one exists for the same endpoint and event (also when another
    transaction inserts it at the same moment); True when this call inserted it."""
    return await insert_once(session, WebhookDelivery, values, ["endpoint_id", "event_id"])


async def set_delivery_job(session: AsyncSession, delivery_id: str, job_id: str) -> None:
    stmt = sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    await session.execute(stmt.values(job_id=job_id).execution_options(synchronize_session=False))


async def get_delivery(session: AsyncSession, delivery_id: str) -> WebhookDelivery | None:
    return await session.get(WebhookDelivery, delivery_id)


async def list_deliveries(
    session: AsyncSession, endpoint_id: str, page: PageRequest
) -> list[WebhookDelivery]:
    stmt = sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    stmt = keyset(stmt, WebhookDelivery.created_at, WebhookDelivery.id, page)
    return list((await session.scalars(stmt)).all())


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> dict[str, list[WebhookAttempt]]:
    """Each delivery's attempts, oldest first."""
    found: dict[str, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    stmt = (
        sa.select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    )
    for attempt in (await session.scalars(stmt)).all():
        found[attempt.delivery_id].append(attempt)
    return found
