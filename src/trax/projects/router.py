"""``/api/v1/projects``."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from trax.deps import CurrentUser, PageParams, UoW
from trax.pagination import Page
from trax.projects import service as projects
from trax.projects.schemas import ProjectCreate, ProjectUpdate, ProjectView

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_project(body: ProjectCreate, user: CurrentUser, uow: UoW) -> ProjectView:
    return ProjectView.model_validate(await projects.create_project(uow.session, user.id, body))


@router.get("")
async def list_projects(user: CurrentUser, uow: UoW, page: PageParams) -> Page[ProjectView]:
    rows, cursor = await projects.list_projects(uow.session, user.id, page)
    return Page(items=[ProjectView.model_validate(p) for p in rows], next_cursor=cursor)


@router.get("/{project_id}")
async def get_project(project_id: str, user: CurrentUser, uow: UoW) -> ProjectView:
    return ProjectView.model_validate(await projects.get_project(uow.session, project_id, user.id))


@router.patch("/{project_id}")
async def update_project(
    project_id: str, body: ProjectUpdate, user: CurrentUser, uow: UoW
) -> ProjectView:
    project = await projects.update_project(uow.session, project_id, user.id, body)
    return ProjectView.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(project_id: str, user: CurrentUser, uow: UoW) -> Response:
    """Delete the project; its media stay, outside any project."""
    await projects.delete_project(uow.session, project_id, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
