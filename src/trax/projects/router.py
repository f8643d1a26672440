"""``/api/v1/projects``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from trax.pagination import Page
from trax.projects import service as projects
from trax.projects.schemas import ProjectCreate, ProjectUpdate, ProjectView
from trax.runtime import Runtime
from trax.system.router import PageParams, runtime
from trax.users.auth import CurrentUser

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])
Rt = Annotated[Runtime, Depends(runtime)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_project(body: ProjectCreate, user: CurrentUser, rt: Rt) -> ProjectView:
    async with rt.db.session() as s:
        return ProjectView.model_validate(await projects.create_project(s, user.id, body))


@router.get("")
async def list_projects(user: CurrentUser, rt: Rt, page: PageParams) -> Page[ProjectView]:
    async with rt.db.session() as s:
        rows, cursor = await projects.list_projects(s, user.id, page)
        return Page(items=[ProjectView.model_validate(p) for p in rows], next_cursor=cursor)


@router.get("/{project_id}")
async def get_project(project_id: str, user: CurrentUser, rt: Rt) -> ProjectView:
    async with rt.db.session() as s:
        return ProjectView.model_validate(await projects.get_project(s, project_id, user.id))


@router.patch("/{project_id}")
async def update_project(
    project_id: str, body: ProjectUpdate, user: CurrentUser, rt: Rt
) -> ProjectView:
    async with rt.db.session() as s:
        project = await projects.update_project(s, project_id, user.id, body)
        return ProjectView.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(project_id: str, user: CurrentUser, rt: Rt) -> Response:
    """Delete the project; its media stay, outside any project."""
    async with rt.db.session() as s:
        await projects.delete_project(s, project_id, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
