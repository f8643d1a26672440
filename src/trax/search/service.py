"""Search rules: indexing a stored version, checking a search, shaping its results.

The CLI (``trax search``) and the API (``GET /api/v1/search``) both call :func:`search`; both
refuse the same values with the same field names.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.engine.result import TranscriptDocument
from trax.pagination import PageRequest
from trax.search import repository
from trax.search.highlight import Highlighter
from trax.search.query import parse
from trax.search.repository import ENGLISH, SIMPLE, Filters
from trax.search.schemas import SearchHit, SearchResult
from trax.transcripts.stages import STAGES

#: Hits shown per transcript (its best-ranked ones); ``hit_count`` tells how many there are.
HITS_PER_TRANSCRIPT = 5
MAX_LIMIT = 100
BAD_LANGUAGE = "expected a language code such as en or de"
BAD_STAGE = "unknown stage {name!r}: choose one of {names}"
BAD_RANGE = "since must be before until"
BAD_TEXT = "at most {n} characters"
BAD_LIMIT = f"between 1 and {MAX_LIMIT}"
BAD_CURSOR = "the cursor {cursor!r} is not one this search gave out"
_LANGUAGE = re.compile(r"[a-z]{2,3}")


async def index_version(
    session: AsyncSession, transcript_id: str, version: int, document: TranscriptDocument
) -> None:
    """Make ``version``'s segments the transcript's search hits (in the caller's transaction,
    so the index always matches the stored versions)."""
    ctx = await repository.transcript_context(session, transcript_id)
    rows: list[dict[str, Any]] = []
    for i, segment in enumerate(document.segments):
        language = segment.language or document.language
        rows.append(
            {
                "transcript_id": transcript_id,
                "media_id": ctx.media_id,
                "owner_id": ctx.owner_id,
                "version": version,
                "stage": document.provenance.stage,
                "segment": i,
                "start": segment.start,
                "end": segment.end,
                "speaker": segment.speaker,
                "language": language,
                "analyzer": ENGLISH if language == "en" else SIMPLE,
                "text": segment.text.strip(),
                "created_at": ctx.created_at,
            }
        )
    await repository.replace_hits(session, transcript_id, version, rows)


@dataclass(frozen=True)
class SearchRequest:
    """What a caller asks for; checked by :func:`search`."""

    q: str
    project: str | None = None
    language: str | None = None
    speaker: str | None = None
    stage: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _checked(request: SearchRequest, owner_id: str | None) -> Filters:
    for field, value, limit in (("project", request.project, 200),
                                ("speaker", request.speaker, 64)):  # fmt: skip
        if value is not None and len(value) > limit:
            raise errors.InvalidOptionError(field, BAD_TEXT.format(n=limit))
    language = request.language.strip().lower() if request.language is not None else None
    if language is not None and not _LANGUAGE.fullmatch(language):
        raise errors.InvalidOptionError("language", BAD_LANGUAGE)
    stage = request.stage.strip().lower() if request.stage is not None else None
    if stage is not None and stage not in STAGES:
        raise errors.InvalidOptionError(
            "stage", BAD_STAGE.format(name=stage[:40], names=", ".join(STAGES))
        )
    since, until = request.since, request.until
    for field, when in (("since", since), ("until", until)):
        if when is not None and when.tzinfo is None:
            raise errors.InvalidOptionError(field, "give a time zone (e.g. 2026-01-01T00:00Z)")
    if since is not None and until is not None and since >= until:
        raise errors.InvalidOptionError("since", BAD_RANGE)
    return Filters(owner_id, request.project or None, language, request.speaker or None, stage,
                   since, until)  # fmt: skip


#: Where a page starts: the window (hit ids below ``below``; None: the newest) and, inside it,
#: the last transcript already shown (its best score and id; None: the window's first).
_Cursor = tuple[int | None, float | None, str | None]


def _encode_cursor(cursor: _Cursor) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> _Cursor:
    try:
        below, score, ident = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if below is not None and (not isinstance(below, int) or isinstance(below, bool)):
            raise TypeError(below)
        if (score is None) != (ident is None) or isinstance(score, bool):
            raise TypeError(score)
        if ident is not None and not isinstance(ident, str):
            raise TypeError(ident)
        return below, (float(score) if score is not None else None), ident
    except (ValueError, TypeError, binascii.Error) as exc:
        raise errors.InvalidOptionError("cursor", BAD_CURSOR.format(cursor=token[:80])) from exc


@dataclass(frozen=True)
class _Group:
    """One transcript's matches in a window, best first."""

    best: float
    transcript_id: str
    matches: list[repository.Match]


def _grouped(matches: list[repository.Match]) -> list[_Group]:
    by_transcript: dict[str, list[repository.Match]] = {}
    for m in matches:
        by_transcript.setdefault(m.transcript_id, []).append(m)
    groups = []
    for tid, found in by_transcript.items():
        found.sort(key=lambda m: (m.score, m.id))
        groups.append(_Group(found[0].score, tid, found))
    groups.sort(key=lambda g: (g.best, g.transcript_id))
    return groups


def _snippet(text: str, marks: list[tuple[int, int]]) -> str:
    """``text`` HTML-escaped with each marked range inside ``<mark>``."""
    out, pos = [], 0
    for start, end in marks:
        out += [html.escape(text[pos:start], quote=False), "<mark>",
                html.escape(text[start:end], quote=False), "</mark>"]  # fmt: skip
        pos = end
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def _hit(row: Any, marker: Highlighter) -> SearchHit:
    marks = marker.spans(row.text, english=row.analyzer == ENGLISH)
    return SearchHit(
        segment=row.segment,
        start=row.start,
        end=row.end,
        speaker=row.speaker,
        language=row.language,
        text=row.text,
        highlights=marks,
        snippet=_snippet(row.text, marks),
        link=f"/api/v1/transcripts/{row.transcript_id}?t={row.start:g}",
    )


async def search(
    session: AsyncSession,
    request: SearchRequest,
    page: PageRequest,
    owner_id: str | None,
    *,
    rank_window: int | None = None,
) -> tuple[list[SearchResult], str | None]:
    """One page of transcripts matching ``request.q``, best first, each with its best hits in
    time order; and the cursor of the next page (None at the end). With ``owner_id`` only that
    user's transcripts are searched; None searches every transcript (the operator's CLI).

    When more than ``rank_window`` segments match (default: the database's
    :func:`~trax.search.repository.window_size`), they are ranked in windows of that many,
    newest first (each window widened to whole transcripts), so that a page costs the same
    however common the words: the first page shows the best of the most recent matches, and
    paging walks every match once."""
    query = parse(request.q)
    filters = _checked(request, owner_id)
    if not 1 <= page.limit <= MAX_LIMIT:
        raise errors.InvalidOptionError("limit", BAD_LIMIT)
    below, score, ident = _decode_cursor(page.cursor) if page.cursor else (None, None, None)
    size = rank_window or repository.window_size(session)
    picked: list[_Group] = []
    cursor: _Cursor | None = None
    while True:  # the windows from ``below`` on, until the page is full
        matches, older = await repository.window(session, query, filters, below, size)
        groups = _grouped(matches)
        if ident is not None and score is not None:
            groups = [g for g in groups if (g.best, g.transcript_id) > (score, ident)]
        room = page.limit - len(picked)
        picked += groups[:room]
        if len(groups) > room:
            cursor = (below, picked[-1].best, picked[-1].transcript_id)
            break
        if older is None:
            break
        below, score, ident = older, None, None
        if len(picked) == page.limit:
            cursor = (below, None, None)
            break
    shown = {m.id: g for g in picked for m in g.matches[:HITS_PER_TRANSCRIPT]}
    rows = await repository.segments(session, list(shown)) if shown else []
    hits: dict[str, list[Any]] = {}
    for row in sorted(rows, key=lambda r: r.segment):
        hits.setdefault(row.transcript_id, []).append(row)
    ids = [g.transcript_id for g in picked]
    info = await repository.transcripts(session, ids) if ids else {}
    results, marker = [], Highlighter(query)
    for g in picked:
        t, rows_of = info.get(g.transcript_id), hits.get(g.transcript_id)
        if t is None or not rows_of:  # deleted meanwhile
            continue
        results.append(
            SearchResult(
                transcript_id=g.transcript_id,
                media_id=t.media_id,
                filename=t.filename,
                project_id=t.project_id,
                version=rows_of[0].version,
                stage=rows_of[0].stage,
                created_at=t.created_at,
                score=g.best,
                hit_count=len(g.matches),
                hits=[_hit(r, marker) for r in rows_of],
            )
        )
    return results, (_encode_cursor(cursor) if cursor is not None else None)
