from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trax.pagination import PageRequest, keyset
from trax.projects.models import Project


async def get(session: AsyncSession, project_id: str) -> Project | None:
    return await session.get(Project, project_id)


async def by_name(session: AsyncSession, owner_id: str, name: str) -> Project | None:
    stmt = sa.select(Project).where(Project.owner_id == owner_id, Project.name == name)
    return (await session.scalars(stmt)).first()


async def add(session: AsyncSession, project: Project) -> Project:
    session.add(project)
    await session.flush()
    return project


async def list_page(session: AsyncSession, owner_id: str, page: PageRequest) -> list[Project]:
    stmt = sa.select(Project).where(Project.owner_id == owner_id)
    return list((await session.scalars(keyset(stmt, Project.created_at, Project.id, page))).all())


async def delete(session: AsyncSession, project: Project) -> None:
    await session.delete(project)
    await session.flush()
