from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trax.db import resolve_id_prefix
from trax.users.models import ApiKey, User


async def by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(sa.select(User).where(User.email == email))
    return result.scalar_one_or_none()


async def add(session: AsyncSession, row: User | ApiKey) -> None:
    session.add(row)
    await session.flush()


async def user_for_key_hash(session: AsyncSession, key_hash: str) -> tuple[User, ApiKey] | None:
    stmt = (
        sa.select(User, ApiKey)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == key_hash)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def get(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def users_with_key_counts(session: AsyncSession) -> list[tuple[User, int]]:
    """Every user, oldest first, with how many API keys they hold."""
    keys = sa.func.count(ApiKey.id)
    stmt = (
        sa.select(User, keys)
        .outerjoin(ApiKey, ApiKey.user_id == User.id)
        .group_by(User.id)
        .order_by(User.created_at, User.id)
    )
    return [(user, int(count)) for user, count in (await session.execute(stmt)).all()]


async def keys_with_emails(
    session: AsyncSession, *, user_id: str | None = None, key_id: str | None = None
) -> list[tuple[ApiKey, str]]:
    """API keys (everyone's, one user's or one), oldest first, each with its owner's email."""
    stmt = sa.select(ApiKey, User.email).join(User, ApiKey.user_id == User.id)
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    if key_id is not None:
        stmt = stmt.where(ApiKey.id == key_id)
    rows = await session.execute(stmt.order_by(ApiKey.created_at, ApiKey.id))
    return [(key, email) for key, email in rows.all()]


async def resolve_key_id(session: AsyncSession, ref: str) -> str:
    return await resolve_id_prefix(session, ApiKey.id, ref, "API key")


async def delete_key(session: AsyncSession, key_id: str) -> None:
    await session.execute(sa.delete(ApiKey).where(ApiKey.id == key_id))
