"""``/api/v1/transcripts/{id}/renders``: burn a version's captions into its media (a job), list
the stored renders, and download one (MP4)."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import FileResponse

from trax.deps import CurrentUser, Rt, UoW, stored_file
from trax.jobs.schemas import JobView
from trax.renders import service as renders
from trax.renders.schemas import RenderCreate, RenderView

router = APIRouter(prefix="/api/v1/transcripts/{transcript_id}/renders", tags=["renders"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def create_render(
    transcript_id: str, body: RenderCreate, user: CurrentUser, uow: UoW
) -> JobView:
    """Burn a version's captions (default: the newest) into its media in a style (a preset
    plus overrides); answers 202 with the job to follow. The result is a render (``render_id``
    on the finished job). An unknown style or a bad option is 422 at once, naming it; the same
    version and style again reuse the stored render."""
    job = await renders.submit_render(
        uow, transcript_id, body.version, body.style, body.overrides, user.id
    )
    return JobView.model_validate(job)


@router.get("")
async def list_renders(transcript_id: str, user: CurrentUser, uow: UoW) -> list[RenderView]:
    """The transcript's stored renders, oldest first."""
    return await renders.list_renders(uow.session, transcript_id, user.id)


@router.get("/{render_id}")
async def get_render(transcript_id: str, render_id: str, user: CurrentUser, uow: UoW) -> RenderView:
    render = await renders.get_render(uow.session, transcript_id, render_id, user.id)
    return RenderView.model_validate(render)


@router.get(
    "/{render_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}},
)
async def download_render(
    transcript_id: str, render_id: str, user: CurrentUser, rt: Rt, uow: UoW
) -> FileResponse:
    """The render's MP4 (its owner only; byte ranges are served for players)."""
    render = await renders.get_render(uow.session, transcript_id, render_id, user.id)
    name = f"{transcript_id[:8]}-v{render.version}-{render.style}.mp4"
    return await stored_file(rt.storage, render.storage_key, "video/mp4", name)
