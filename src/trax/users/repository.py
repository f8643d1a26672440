from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

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
