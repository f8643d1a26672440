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


#: No transcript has this many segments: "all of one transcript's matches".
_WHOLE = 1_000_000


@dataclass(frozen=True)
class Match:
    """One matching segment: its hit id, transcript and score (lower is better)."""

    id: int
    transcript_id: str
    score: float


def _newest(
    session: AsyncSession,
    query: Query,
    conds: list[sa.ColumnElement[bool]],
    below: int | None,
    limit: int,
    at_least: int | None = None,
    scored: bool = True,
) -> list[sa.Select[Any]]:
    """Statements (one per FTS table on SQLite) giving ``(id, transcript_id, score)`` of the
    newest ``limit`` matches with an id below ``below`` (and at least ``at_least``), newest
    first; ``score`` is 0 unless ``scored``. FTS5 walks its index in id order and stops after
    ``limit`` rows; only those rows are scored."""
    if _is_sqlite(session):
        match, stmts = fts5_match(query), []
        for name in _FTS.values():
            fts = sa.table(name, sa.column("rowid"))
            table: sa.ColumnClause[Any] = sa.literal_column(name)
            where = [table.op("MATCH")(match), *conds]
            if below is not None:
                where.append(fts.c.rowid < below)
            if at_least is not None:
                where.append(fts.c.rowid >= at_least)
            score = sa.func.bm25(table) if scored else sa.literal(0.0)
            stmts.append(
                sa.select(fts.c.rowid.label("id"), H.transcript_id, score.label("score"))
                .select_from(fts)
                .join(H, H.id == fts.c.rowid)
                .where(*where)
                .order_by(fts.c.rowid.desc())
                .limit(limit)
            )
        return stmts
    tsv: sa.ColumnClause[Any] = sa.literal_column("segment_hits.tsv")
    english = H.analyzer == ENGLISH
    q_en, q_simple = tsquery(_CONFIG[ENGLISH], query), tsquery(_CONFIG[SIMPLE], query)
    rank = sa.case(
        (english, sa.func.ts_rank_cd(tsv, q_en)), else_=sa.func.ts_rank_cd(tsv, q_simple)
    )
    found = sa.or_(
        sa.and_(english, tsv.op("@@")(q_en)), sa.and_(H.analyzer != ENGLISH, tsv.op("@@")(q_simple))
    )
    where = [found, *conds]
    if below is not None:
        where.append(H.id < below)
    if at_least is not None:
        where.append(H.id >= at_least)
    # ``id + 0``: not the primary key's order, so that the planner, which misjudges rare and
    # unknown terms, cannot walk every row backwards looking for them (1.2 s for a word with no
    # match in a million rows); the GIN bitmap finds them. Dense terms were served in chunks.
    order = H.id.desc() if at_least is not None else (H.id + 0).desc()
    return [
        sa.select(H.id, H.transcript_id, (-rank if scored else sa.literal(0.0)).label("score"))
        .where(*where)
        .order_by(order)
        .limit(limit)
    ]


#: PostgreSQL reads the newest rows in chunks of this many while matches are dense in them.
_CHUNK_ROWS = 20_000
#: Below this share of matching rows in what was read, the GIN index (the planner) is cheaper.
_DENSE = 0.005


async def _newest_matches(
    session: AsyncSession,
    query: Query,
    conds: list[sa.ColumnElement[bool]],
    below: int | None,
    limit: int,
    at_least: int | None = None,
    scored: bool = True,
) -> list[Match]:
    """See :func:`_newest`. On PostgreSQL the newest rows are read in id order, a chunk at a
    time, while matches are dense there: a common term fills ``limit`` in a bounded time
    whatever the planner estimates (it cannot estimate phrases, and would fetch and sort every
    match). Where matches are sparse the rest goes to the planner's own plan (the GIN index)."""

    async def newest(low: int | None, high: int | None, n: int) -> list[Match]:
        """The newest ``n`` matches in ``[low, high)``, merged from every statement."""
        found: list[Match] = []
        for stmt in _newest(session, query, conds, high, n, low, scored):
            rows = await session.execute(stmt)
            found += [Match(r.id, r.transcript_id, float(r.score)) for r in rows]
        found.sort(key=lambda m: m.id, reverse=True)
        return found[:n]  # past the n-th, one FTS table's older rows would hide the other's

    if _is_sqlite(session) or at_least is not None:
        return await newest(at_least, below, limit)
    found: list[Match] = []
    read, high = 0, below
    while len(found) < limit:
        floor = None  # read all the rest: the planner's plan (the GIN index) when sparse
        if read == 0 or len(found) >= _DENSE * read:
            chunk = sa.select(H.id).order_by(H.id.desc()).offset(_CHUNK_ROWS - 1).limit(1)
            floor = await session.scalar(chunk if high is None else chunk.where(H.id < high))
        found += await newest(floor, high, limit - len(found))
        if floor is None:
            break
        read, high = read + _CHUNK_ROWS, floor
    return found


def window_size(session: AsyncSession) -> int:
    """How many matches are ranked together (ADR 0015). FTS5's ``bm25`` reads the whole of
    each term's index once per query whatever the limit, so SQLite ranks larger windows for
    the same price; PostgreSQL reads a row for every match it ranks."""
    return 1000 if _is_sqlite(session) else 100


#: Matches read past a window (at most the window's size) to find where its oldest transcript
#: starts.
_SLACK = 200


async def window(
    session: AsyncSession, query: Query, f: Filters, below: int | None, size: int
) -> tuple[list[Match], int | None]:
    """The newest ``size`` matches with an id below ``below`` (every one when there are fewer),
    widened to every match of the oldest one's transcript so that no transcript is split
    between two windows; and the ``below`` of the next (older) window, None when no older
    match is left. Hit ids grow with indexing, so "newest" means most recently indexed."""
    conds = _conditions(f)
    found = await _newest_matches(session, query, conds, below, size + min(_SLACK, size))
    if len(found) <= size:
        return found, None
    oldest = found[size - 1]
    for i in range(size, len(found)):  # the oldest transcript's matches are usually adjacent
        if found[i].transcript_id != oldest.transcript_id:
            return found[:i], found[i - 1].id
    found = found[:size]
    first_id = await session.scalar(
        sa.select(sa.func.min(H.id)).where(H.transcript_id == oldest.transcript_id)
    )
    if first_id is not None and first_id < oldest.id:
        rest = [*conds, H.transcript_id == oldest.transcript_id]
        found += await _newest_matches(session, query, rest, oldest.id, _WHOLE, first_id)
    lowest = found[-1].id
    older = await _newest_matches(session, query, conds, lowest, 1, scored=False)
    return found, (lowest if older else None)


async def segments(session: AsyncSession, ids: Sequence[int]) -> list[sa.Row[Any]]:
    """The indexed segments with these hit ids."""
    stmt = sa.select(H.id, H.transcript_id, H.segment, H.start, H.end, H.speaker, H.language,
                     H.analyzer, H.text, H.version, H.stage).where(H.id.in_(list(ids)))  # fmt: skip
    return list(await session.execute(stmt))


async def count(session: AsyncSession, query: Query, f: Filters) -> int:
    """How many segments match (the benchmark reports it)."""
    total = 0
    for stmt in _newest(session, query, _conditions(f), None, 1):
        every = stmt.order_by(None).limit(None).subquery()
        total += int(await session.scalar(sa.select(sa.func.count()).select_from(every)) or 0)
    return total


async def transcripts(session: AsyncSession, ids: Sequence[str]) -> dict[str, Any]:
    stmt = (
        sa.select(Transcript.id, Transcript.created_at, Media.id.label("media_id"),
                  Media.filename, Media.project_id)
        .join(Media, Media.id == Transcript.media_id)
        .where(Transcript.id.in_(list(ids)))
    )  # fmt: skip
    return {r.id: r for r in await session.execute(stmt)}
