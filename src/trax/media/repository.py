from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trax.media.models import Media


async def get(session: AsyncSession, media_id: str) -> Media | None:
    return await session.get(Media, media_id)


async def get_by_sha256(session: AsyncSession, sha256: str) -> Media | None:
    result = await session.execute(sa.select(Media).where(Media.sha256 == sha256))
    return result.scalar_one_or_none()


async def add(session: AsyncSession, media: Media) -> Media:
    session.add(media)
    await session.flush()
    return media
