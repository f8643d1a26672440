"""Search queries: the only place that knows FTS5 and ``tsvector`` (ADR 0015).

Both databases get the same parsed :class:`~trax.search.query.Query` and the same filters; each
renders it its own way. Every user term reaches the database as a bound parameter (PostgreSQL)
or as a quoted FTS5 string (SQLite), never as query syntax.

Scores are "lower is better" on both: FTS5's ``bm25`` as it is, ``ts_rank_cd`` negated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession

from trax.media.models import Media
from trax.projects.models import Project
from trax.search.models import SegmentHit as H
from trax.search.query import Query, Term
from trax.transcripts.models import Transcript

ENGLISH, SIMPLE = "english", "simple"
#: FTS5 table per analyzer (SQLite) and text-search configuration (PostgreSQL).
_FTS = {ENGLISH: "segment_fts_en", SIMPLE: "segment_fts"}
_CONFIG = {ENGLISH: "trax_english", SIMPLE: "trax_simple"}


@dataclass(frozen=True)
class Filters:
    """Checked filters (see :func:`trax.search.service.search`)."""

    owner_id: str | None  # None: every owner (the operator's CLI)
    project: str | None = None
    language: str | None = None
    speaker: str | None = None
    stage: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# --- keeping the index ------------------------------------------------------------------------


async def transcript_context(
    session: AsyncSession, transcript_id: str
) -> sa.Row[str, datetime, str | None]:
    stmt = (
        sa.select(Transcript.media_id, Transcript.created_at, Media.owner_id)
        .join(Media, Media.id == Transcript.media_id)
        .where(Transcript.id == transcript_id)
    )
    return (await session.execute(stmt)).one()


async def replace_hits(
    session: AsyncSession, transcript_id: str, version: int, rows: list[dict[str, Any]]
) -> None:
    """Make ``rows`` (segments of ``version``) the transcript's hits, unless a newer version is
    indexed already. Inserts go through the ORM's bulk path (executemany)."""
    newer = await session.scalar(
        sa.select(H.id).where(H.transcript_id == transcript_id, H.version > version).limit(1)
    )
    if newer is not None:
        return
    await session.execute(sa.delete(H).where(H.transcript_id == transcript_id))
    if rows:
        await session.execute(sa.insert(H), rows)


# --- rendering a query --------------------------------------------------------------------------


def _fts5_term(term: Term) -> str:
    quoted = '"' + term.text.replace('"', '""') + '"'
    return f"{quoted} *" if term.prefix else quoted


def fts5_match(query: Query) -> str:
    """An FTS5 ``MATCH`` expression: every term a quoted string, so none is syntax."""
    text = " AND ".join(
        "(" + " OR ".join(_fts5_term(t) for t in clause) + ")" for clause in query.all
    )
    if query.excluded:
        text = f"({text}) NOT (" + " OR ".join(_fts5_term(t) for t in query.excluded) + ")"
    return text


def _ts_term(config: str, term: Term) -> sa.ColumnElement[Any]:
    cfg = sa.cast(sa.literal(config), REGCONFIG)
    if term.prefix:  # a prefix term holds letters and digits only; quoted all the same
        return sa.func.to_tsquery(cfg, "'" + term.text.replace("'", "''") + "':*")
    return sa.func.phraseto_tsquery(cfg, term.text)


def _fold(fn: str, items: Sequence[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
    out = items[0]
    for item in items[1:]:
        out = getattr(sa.func, fn)(out, item)
    return out


def tsquery(config: str, query: Query) -> sa.ColumnElement[Any]:
    """The query as a ``tsquery`` built from bound parameters (``tsquery_and/or/not``)."""
    clauses = [_fold("tsquery_or", [_ts_term(config, t) for t in c]) for c in query.all]
    parts = clauses + [sa.func.tsquery_not(_ts_term(config, t)) for t in query.excluded]
    return _fold("tsquery_and", parts)


# --- searching ----------------------------------------------------------------------------------


def _conditions(f: Filters) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = []
    if f.owner_id is not None:
        conds.append(H.owner_id == f.owner_id)
    if f.language is not None:
        conds.append(H.language == f.language)
    if f.speaker is not None:
        conds.append(H.speaker == f.speaker)
    if f.stage is not None:
        conds.append(H.stage == f.stage)
    if f.since is not None:
        conds.append(H.created_at >= f.since)
    if f.until is not None:
        conds.append(H.created_at < f.until)
    if f.project is not None:
        projects = sa.select(Project.id).where(
            sa.or_(Project.id == f.project, Project.name == f.project)
        )
        if f.owner_id is not None:
            projects = projects.where(Project.owner_id == f.owner_id)
        in_project = sa.select(Media.id).where(Media.project_id.in_(projects.scalar_subquery()))
        conds.append(H.media_id.in_(in_project.scalar_subquery()))
    return conds


def _matches(
    session: AsyncSession, query: Query, conds: list[sa.ColumnElement[bool]]
) -> sa.CompoundSelect[Any] | sa.Select[Any]:
    """``(id, transcript_id, score)`` of every matching segment."""
    columns: list[Any] = [H.id, H.transcript_id]
    if _is_sqlite(session):
        match = fts5_match(query)
        parts = []
        for name in _FTS.values():
            fts = sa.table(name, sa.column("rowid"))
            table: sa.ColumnClause[Any] = sa.literal_column(name)
            parts.append(
                sa.select(*columns, sa.func.bm25(table).label("score"))
                .select_from(fts)
                .join(H, H.id == fts.c.rowid)
                .where(table.op("MATCH")(match), *conds)
            )
        return sa.union_all(*parts)
    tsv: sa.ColumnClause[Any] = sa.literal_column("segment_hits.tsv")
    english = H.analyzer == ENGLISH
    q_en, q_simple = tsquery(_CONFIG[ENGLISH], query), tsquery(_CONFIG[SIMPLE], query)
    rank = sa.case(
        (english, sa.func.ts_rank_cd(tsv, q_en)), else_=sa.func.ts_rank_cd(tsv, q_simple)
    )
    found = sa.or_(
        sa.and_(english, tsv.op("@@")(q_en)), sa.and_(H.analyzer != ENGLISH, tsv.op("@@")(q_simple))
    )
    stmt: sa.Select[Any] = sa.select(*columns, (-rank).label("score")).where(found, *conds)
    return stmt


async def page(
    session: AsyncSession,
    query: Query,
    f: Filters,
    limit: int,
    after: tuple[float, str] | None,
    per_transcript: int,
) -> list[sa.Row[Any]]:
    """One scan of the matches: the ``limit`` best transcripts after ``after`` (by their best
    score, then id), each with its ``best`` score, its number of hits ``n`` and its
    ``per_transcript`` best segments (``score``, and the segment's columns)."""
    m = _matches(session, query, _conditions(f)).cte("m")  # used twice: scanned once
    grouped = (
        sa.select(m.c.transcript_id, sa.func.min(m.c.score).label("best"),
                  sa.func.count().label("n"))
        .group_by(m.c.transcript_id)
        .subquery()
    )  # fmt: skip
    top = sa.select(grouped).order_by(grouped.c.best, grouped.c.transcript_id).limit(limit)
    if after is not None:
        score, ident = after
        top = top.where(
            sa.or_(
                grouped.c.best > score,
                sa.and_(grouped.c.best == score, grouped.c.transcript_id > ident),
            )
        )
    g = top.subquery()
    order = sa.func.row_number().over(partition_by=m.c.transcript_id, order_by=(m.c.score, m.c.id))
    ranked = (
        sa.select(m.c.id, m.c.score, g.c.best, g.c.n, order.label("rn"))
        .join(g, g.c.transcript_id == m.c.transcript_id)
        .subquery()
    )
    stmt = (
        sa.select(ranked.c.best, ranked.c.n, ranked.c.score, H.transcript_id, H.segment, H.start,
                  H.end, H.speaker, H.language, H.analyzer, H.text, H.version, H.stage)
        .join(H, H.id == ranked.c.id)
        .where(ranked.c.rn <= per_transcript)
        .order_by(ranked.c.best, H.transcript_id, H.segment)
    )  # fmt: skip
    return list(await session.execute(stmt))


async def count(session: AsyncSession, query: Query, f: Filters) -> int:
    """How many segments match (the benchmark reports it)."""
    m = _matches(session, query, _conditions(f)).subquery()
    return int(await session.scalar(sa.select(sa.func.count()).select_from(m)) or 0)


async def transcripts(session: AsyncSession, ids: Sequence[str]) -> dict[str, Any]:
    stmt = (
        sa.select(Transcript.id, Transcript.created_at, Media.id.label("media_id"),
                  Media.filename, Media.project_id)
        .join(Media, Media.id == Transcript.media_id)
        .where(Transcript.id.in_(list(ids)))
    )  # fmt: skip
    return {r.id: r for r in await session.execute(stmt)}
