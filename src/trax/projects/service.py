"""Projects belong to one user; another user's project does not exist for them (404)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.pagination import PageRequest, paged
from trax.projects import repository
from trax.projects.models import Project
from trax.projects.schemas import ProjectCreate, ProjectUpdate

PROJECT_NOT_FOUND = "no project with id {project_id!r}"
NAME_TAKEN = "you already have a project named {name!r}"


async def get_project(session: AsyncSession, project_id: str, owner_id: str) -> Project:
    project = await repository.get(session, project_id)
    if project is None or project.owner_id != owner_id:
        raise errors.NotFoundError(PROJECT_NOT_FOUND.format(project_id=project_id))
    return project


async def _check_name(session: AsyncSession, owner_id: str, name: str) -> None:
    if await repository.by_name(session, owner_id, name) is not None:
        raise errors.ConflictError(NAME_TAKEN.format(name=name))


async def create_project(session: AsyncSession, owner_id: str, body: ProjectCreate) -> Project:
    await _check_name(session, owner_id, body.name)
    project = Project(owner_id=owner_id, name=body.name, description=body.description)
    return await repository.add(session, project)


async def update_project(
    session: AsyncSession, project_id: str, owner_id: str, body: ProjectUpdate
) -> Project:
    project = await get_project(session, project_id, owner_id)
    if body.name is not None and body.name != project.name:
        await _check_name(session, owner_id, body.name)
        project.name = body.name
    if "description" in body.model_fields_set:
        project.description = body.description
    await session.flush()
    return project


async def list_projects(
    session: AsyncSession, owner_id: str, page: PageRequest
) -> tuple[list[Project], str | None]:
    rows = await repository.list_page(session, owner_id, page)
    return paged(rows, page)


async def delete_project(session: AsyncSession, project_id: str, owner_id: str) -> None:
    """Delete the project; its media stay, outside any project."""
    await repository.delete(session, await get_project(session, project_id, owner_id))
