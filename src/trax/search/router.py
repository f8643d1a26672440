"""``GET /api/v1/search``: the caller's library, searched."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from trax.deps import CurrentUser, UoW
from trax.pagination import Page, PageRequest
from trax.search import service
from trax.search.query import MAX_QUERY_CHARS
from trax.search.schemas import SearchResult

router = APIRouter(prefix="/api/v1", tags=["search"])
QUERY_HELP = (
    'Words (all must match), "exact phrase", prefix*, -exclude, a OR b. Case and accents do '
    f"not matter; English is matched by word stem (running finds run). At most {MAX_QUERY_CHARS} "
    "characters."
)

STAGE_HELP = "Transcripts whose newest version is this stage (basic, multipass, ...)."


@router.get("/search")
async def search(
    user: CurrentUser,
    uow: UoW,
    q: Annotated[str, Query(description=QUERY_HELP)],
    project: Annotated[str | None, Query(description="A project id or name.")] = None,
    language: Annotated[str | None, Query(description="Segments in this language (en).")] = None,
    speaker: Annotated[str | None, Query(description="Segments of this speaker.")] = None,
    stage: Annotated[str | None, Query(description=STAGE_HELP)] = None,
    since: Annotated[datetime | None, Query(description="Transcripts made at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Transcripts made before.")] = None,
    limit: Annotated[int, Query(description="Transcripts per page (1-100).")] = 20,
    cursor: Annotated[str | None, Query(description="``next_cursor`` of the page before.")] = None,
) -> Page[SearchResult]:
    """Search the segments of your transcripts' newest versions. Results are grouped by
    transcript, best first (bm25 on SQLite, ts_rank_cd on PostgreSQL); each holds its best hits
    in time order with start and end, speaker, the matched words highlighted and a link. A query
    or filter that cannot be searched is 422, naming it."""
    request = service.SearchRequest(q, project, language, speaker, stage, since, until)
    items, next_cursor = await service.search(
        uow.session, request, PageRequest(limit=limit, cursor=cursor), user.id
    )
    return Page(items=items, next_cursor=next_cursor)
