from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trax.renders.models import Render


async def get(session: AsyncSession, render_id: str) -> Render | None:
    return await session.get(Render, render_id)


async def find(
    session: AsyncSession, transcript_id: str, version: int, recipe_key: str
) -> Render | None:
    stmt = sa.select(Render).where(
        Render.transcript_id == transcript_id,
        Render.version == version,
        Render.recipe_key == recipe_key,
    )
    return (await session.scalars(stmt)).first()


async def add(session: AsyncSession, render: Render) -> Render:
    session.add(render)
    await session.flush()
    return render


async def of_transcript(session: AsyncSession, transcript_id: str) -> list[Render]:
    stmt = (
        sa.select(Render)
        .where(Render.transcript_id == transcript_id)
        .order_by(Render.created_at, Render.id)
    )
    return list((await session.scalars(stmt)).all())


async def keys_of_media(session: AsyncSession, media_id: str) -> list[str]:
    stmt = sa.select(Render.storage_key).where(Render.media_id == media_id).distinct()
    return list((await session.scalars(stmt)).all())


async def keys_in_use(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    stmt = sa.select(Render.storage_key).where(Render.storage_key.in_(keys)).distinct()
    return set((await session.scalars(stmt)).all())
