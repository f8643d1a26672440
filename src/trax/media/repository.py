from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from trax.db import utcnow
from trax.media.models import Media, StoredObject
from trax.pagination import PageRequest, keyset


async def get(session: AsyncSession, media_id: str) -> Media | None:
    return await session.get(Media, media_id)


async def get_by_sha256(session: AsyncSession, sha256: str, owner_id: str | None) -> Media | None:
    owner = Media.owner_id.is_(None) if owner_id is None else Media.owner_id == owner_id
    result = await session.execute(sa.select(Media).where(Media.sha256 == sha256, owner))
    return result.scalars().first()


async def add(session: AsyncSession, media: Media) -> Media:
    session.add(media)
    await session.flush()
    return media


async def list_page(
    session: AsyncSession, owner_id: str, project_id: str | None, page: PageRequest
) -> list[Media]:
    stmt = sa.select(Media).where(Media.owner_id == owner_id)
    if project_id is not None:
        stmt = stmt.where(Media.project_id == project_id)
    return list((await session.scalars(keyset(stmt, Media.created_at, Media.id, page))).all())


async def delete(session: AsyncSession, media: Media) -> None:
    await session.delete(media)
    await session.flush()


async def storage_key_in_use(session: AsyncSession, key: str) -> bool:
    stmt = sa.select(sa.func.count()).select_from(Media).where(Media.storage_key == key)
    return bool(await session.scalar(stmt))


async def lock_object(session: AsyncSession, key: str) -> None:
    """Create or touch the stored object's row, holding its lock until the transaction ends
    (a row lock on PostgreSQL; on SQLite any write holds the database's write lock)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(StoredObject).values(key=key, referenced_at=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"referenced_at": stmt.excluded.referenced_at}
    )
    await session.execute(stmt)


async def forget_object(session: AsyncSession, key: str) -> None:
    await session.execute(sa.delete(StoredObject).where(StoredObject.key == key))
