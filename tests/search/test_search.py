"""Searching real transcripts of the shared recordings, on SQLite and PostgreSQL.

The recordings are transcribed once (tiny.en); each test stores them through the services (users,
media, transcripts) and searches through :func:`trax.search.service.search`, as the CLI and the
API do.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy as sa
from hypothesis import strategies as st

from trax import db as dbmod
from trax import errors
from trax.engine.asr import Transcriber
from trax.engine.audio import probe
from trax.engine.options import TranscribeOptions
from trax.engine.result import Segment, TranscriptDocument
from trax.media import deletion
from trax.media import service as media_service
from trax.pagination import PageRequest
from trax.projects import service as projects
from trax.projects.schemas import ProjectCreate
from trax.runtime import Runtime
from trax.search import service as search
from trax.search.schemas import SearchResult
from trax.transcripts import service as transcripts
from trax.transcripts.stages import StageRequest
from trax.unit_of_work import JobRef, unit_of_work
from trax.users import service as users

pytestmark = pytest.mark.anyio
TINY = TranscribeOptions(model="tiny.en")
#: Query strings that are syntax to FTS5 or to tsquery, or that no database can store.
HOSTILE = ['"', '""', "*", "-", "--", "OR", "OR OR", "NOT", "AND", "NEAR(ask not)", "(", ")",
           "ask:*", "'", "''", "\\", "\x00", "a\x00b", "^ask", "text:ask", "&|!<->", "!!ask",
           "ask &", "- ask", '-"ask not"', "*ask", "ask**", "\ud800", "ask\u200bnot", "…",
           "\u2010", "ask\tnot", "x" * 501, " ", "{ask}", "[ask]", "ask AND NOT not",
           "country -"]  # fmt: skip


class _Nowhere:
    def enqueue(self, jobs: Sequence[JobRef]) -> None:
        pass


@pytest.fixture(scope="session")
def documents(transcriber: Transcriber, media: Path) -> dict[str, TranscriptDocument]:
    """What tiny.en hears in jfk.flac and sample.wav (transcribed once per session)."""
    return {
        name: transcriber.transcribe(
            probe(media / name, max_bytes=10**10, max_duration=10**6), TINY
        )
        for name in ("jfk.flac", "sample.wav")
    }


@dataclass
class Library:
    alice: str
    bob: str
    project: str
    transcripts: dict[str, str]  # file name → transcript id
    media: dict[str, str]  # file name → media id


@pytest.fixture
async def library(
    runtime: Runtime, documents: dict[str, TranscriptDocument], media: Path, tmp_path: Path
) -> Library:
    """Alice owns both recordings (jfk.flac in her project "speeches"); Bob owns nothing."""
    async with unit_of_work(runtime.db, _Nowhere()) as uow:
        alice = await users.create_user(uow.session, "alice@example.com")
        bob = await users.create_user(uow.session, "bob@example.com")
        project = await projects.create_project(
            uow.session, alice.id, ProjectCreate(name="speeches")
        )
    found = Library(alice.id, bob.id, project.id, {}, {})
    for name, doc in documents.items():
        copy = tmp_path / name
        shutil.copyfile(media / name, copy)
        staged = await media_service.stage_received(runtime, copy)
        async with unit_of_work(runtime.db, _Nowhere()) as uow:
            in_project = project.id if name == "jfk.flac" else None
            item = await media_service.ingest_received(
                uow.session, runtime.storage, staged, alice.id, in_project
            )
            transcript, _ = await transcripts.save_basic(uow.session, item, TINY, doc)
        found.transcripts[name], found.media[name] = transcript.id, item.id
    return found


async def find(
    rt: Runtime,
    q: str,
    owner: str | None,
    limit: int = 20,
    cursor: str | None = None,
    **filters: object,
) -> tuple[list[SearchResult], str | None]:
    async with rt.db.session() as s:
        request = search.SearchRequest(q, **filters)  # type: ignore[arg-type]
        return await search.search(s, request, PageRequest(limit=limit, cursor=cursor), owner)


async def walk(rt: Runtime, q: str, owner: str, rank_window: int) -> list[SearchResult]:
    """Every result of ``q``, one transcript per page, following the cursors to the end."""
    walked, cursor = [], None
    while True:
        async with rt.db.session() as s:
            found, cursor = await search.search(
                s, search.SearchRequest(q), PageRequest(limit=1, cursor=cursor), owner,
                rank_window=rank_window,
            )  # fmt: skip
        walked += found
        if cursor is None:
            return walked


def hits_of(results: list[SearchResult]) -> list[tuple[str, str]]:
    """(file, segment text) of every hit, in order."""
    return [(r.filename, h.text) for r in results for h in r.hits]


async def test_a_phrase_finds_the_segment_where_it_is_spoken(
    runtime: Runtime, library: Library, documents: dict[str, TranscriptDocument]
) -> None:
    results, cursor = await find(runtime, '"ask not"', library.alice)
    assert cursor is None
    assert [r.filename for r in results] == ["jfk.flac"]
    (hit,) = results[0].hits
    words = [w for s in documents["jfk.flac"].segments for w in s.words]
    i = next(i for i, w in enumerate(words) if w.text.strip().lower() == "ask")
    assert words[i + 1].text.strip().lower() == "not"
    assert hit.start <= words[i].start, "the hit holds the words"
    assert words[i + 1].end <= hit.end
    assert [hit.text[a:b].lower() for a, b in hit.highlights] == ["ask not"]
    assert "<mark>ask not</mark>" in hit.snippet.lower()
    assert hit.link == f"/api/v1/transcripts/{library.transcripts['jfk.flac']}?t={hit.start:g}"
    assert results[0].hit_count == 1
    assert results[0].version == 1


async def test_words_phrases_prefixes_exclusion_and_or(runtime: Runtime, library: Library) -> None:
    async def files(q: str) -> list[str]:
        return sorted({f for f, _ in hits_of((await find(runtime, q, library.alice))[0])})

    assert len(hits_of((await find(runtime, "what country", library.alice))[0])) == 2
    assert await files('"what country"') == [], "a phrase is the words in order"
    assert await files("americ*") == ["jfk.flac"]
    assert await files("americ") == [], "without * a word is whole"
    assert await files("CHICA*") == ["sample.wav"]
    assert await files("original") == ["sample.wav"], "English words match by stem"
    assert await files("chicago OR americans") == ["jfk.flac", "sample.wav"]
    assert await files("jersey OR americans diane") == ["sample.wav"]
    excluded = hits_of((await find(runtime, "country -americans", library.alice))[0])
    assert excluded
    assert all("americans" not in text.lower() for _, text in excluded)
    assert len(excluded) == 1


async def test_a_new_version_replaces_the_old_hits_and_accents_and_case_fold(
    runtime: Runtime, library: Library, documents: dict[str, TranscriptDocument]
) -> None:
    old = documents["jfk.flac"]
    changed = [
        s.model_copy(update={"text": s.text.replace("country", "Café Crème")}) for s in old.segments
    ]
    new = old.model_copy(
        update={
            "segments": tuple(changed),
            "provenance": old.provenance.model_copy(update={"stage": "multipass"}),
        }
    )
    tid = library.transcripts["jfk.flac"]
    async with runtime.db.session() as s:
        await transcripts.save_stage(s, tid, 1, StageRequest("multipass", {}), new)
    assert await find(runtime, "country", library.alice) == ([], None), "old hits are gone"
    for q in ("cafe", "CAFÉ", "creme", '"cafe creme"', "café*"):
        results, _ = await find(runtime, q, library.alice)
        assert [r.version for r in results] == [2], q
        assert [r.stage for r in results] == ["multipass"], q
    results, _ = await find(runtime, "cafe", library.alice, stage="multipass")
    assert [r.filename for r in results] == ["jfk.flac"]
    assert (await find(runtime, "chicago", library.alice, stage="multipass"))[0] == []


async def test_speakers_filters_and_pagination(
    runtime: Runtime, library: Library, documents: dict[str, TranscriptDocument], media: Path
) -> None:
    # Who speaks when, from the recording's reference (sample.rttm), as a diarized stage would.
    turns = []
    for line in (media / "sample.rttm").read_text().splitlines():
        f = line.split()
        turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))

    def speaker(seg: Segment) -> str:
        overlap = {who: min(seg.end, b) - max(seg.start, a) for a, b, who in turns}
        return max(overlap, key=lambda who: overlap[who])

    old = documents["sample.wav"]
    segs = tuple(s.model_copy(update={"speaker": speaker(s)}) for s in old.segments)
    diarized = old.model_copy(update={"segments": segs})
    async with runtime.db.session() as s:
        tid = library.transcripts["sample.wav"]
        await transcripts.save_stage(s, tid, 1, StageRequest("multipass", {}), diarized)
    results, _ = await find(runtime, "jersey", library.alice)
    speakers = {h.speaker for r in results for h in r.hits}
    assert speakers
    assert None not in speakers
    one = sorted(s for s in speakers if s)[0]
    only, _ = await find(runtime, "jersey", library.alice, speaker=one)
    assert {h.speaker for r in only for h in r.hits} == {one}
    assert sum(r.hit_count for r in only) < sum(r.hit_count for r in results)

    assert [r.filename for r in (await find(runtime, "you", library.alice, project="speeches"))[0]
            ] == ["jfk.flac"]  # fmt: skip
    by_id, _ = await find(runtime, "you", library.alice, project=library.project)
    assert [r.filename for r in by_id] == ["jfk.flac"]
    assert (await find(runtime, "you", library.alice, language="de"))[0] == []
    assert len((await find(runtime, "you", library.alice, language="EN"))[0]) == 2
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert (await find(runtime, "you", library.alice, since=tomorrow))[0] == []
    assert len((await find(runtime, "you", library.alice, until=tomorrow))[0]) == 2

    first, cursor = await find(runtime, "you", library.alice, limit=1)
    assert cursor is not None
    second, end = await find(runtime, "you", library.alice, limit=1, cursor=cursor)
    assert end is None
    assert {first[0].filename, second[0].filename} == {"jfk.flac", "sample.wav"}


async def test_common_words_rank_the_newest_matches_first_and_paging_reaches_every_hit(
    runtime: Runtime, library: Library
) -> None:
    """A word matching more segments than the rank window: pages still walk every transcript
    once with all its hits counted, newest transcript first (ADR 0015)."""
    everything, _ = await find(runtime, "ask OR you", library.alice)
    counts = {r.filename: r.hit_count for r in everything}
    assert counts["sample.wav"] > 1, "the window must cut sample.wav's matches"
    assert [r.filename for r in everything] == ["jfk.flac", "sample.wav"], "best ranked first"
    walked = await walk(runtime, "ask OR you", library.alice, rank_window=1)
    assert [r.filename for r in walked] == ["sample.wav", "jfk.flac"], "newest first"
    assert {r.filename: r.hit_count for r in walked} == counts
    assert {r.filename: r.hits for r in walked} == {r.filename: r.hits for r in everything}


async def test_a_window_over_both_indexes_keeps_the_transcript_at_its_edge_whole(
    runtime: Runtime, library: Library, documents: dict[str, TranscriptDocument]
) -> None:
    """The newest transcript is German (the other index) and matches more often than a window
    holds: windows merged from both indexes still count and show all its hits."""
    old = documents["sample.wav"]
    german = old.model_copy(
        update={
            "language": "de",
            "segments": tuple(seg.model_copy(update={"language": None}) for seg in old.segments),
            "provenance": old.provenance.model_copy(update={"stage": "multipass"}),
        }
    )
    async with runtime.db.session() as s:
        await transcripts.save_stage(
            s, library.transcripts["sample.wav"], 1, StageRequest("multipass", {}), german
        )
    everything, _ = await find(runtime, "you", library.alice)
    counts = {r.filename: r.hit_count for r in everything}
    assert counts["sample.wav"] > 2, "more matches than a window of 1 and its slack"
    walked = await walk(runtime, "you", library.alice, rank_window=1)
    assert {r.filename: r.hit_count for r in walked} == counts
    assert [r.filename for r in walked] == ["sample.wav", "jfk.flac"]


async def test_only_the_owners_transcripts_are_searched(runtime: Runtime, library: Library) -> None:
    assert len((await find(runtime, "you", library.alice))[0]) == 2
    assert await find(runtime, "you", library.bob) == ([], None)
    assert (await find(runtime, "you", library.bob, project="speeches"))[0] == []
    assert len((await find(runtime, "you", None))[0]) == 2, "the operator's CLI sees all"


async def test_deleting_media_removes_its_hits(runtime: Runtime, library: Library) -> None:
    async with unit_of_work(runtime.db, _Nowhere()) as uow:
        await deletion.delete_media(uow, runtime.storage, library.media["jfk.flac"], library.alice)
    assert await find(runtime, "country", library.alice) == ([], None)
    assert [r.filename for r in (await find(runtime, "you", library.alice))[0]] == ["sample.wav"]
    async with runtime.db.session() as s:
        left = await s.scalar(sa.text("SELECT count(DISTINCT transcript_id) FROM segment_hits"))
        if runtime.db.is_sqlite:  # the FTS5 tables agree with their content table
            for table in ("segment_fts", "segment_fts_en"):
                await s.execute(sa.text(f"INSERT INTO {table}({table}) VALUES('integrity-check')"))
    assert left == 1, "only sample.wav's segments are left"


async def test_the_migration_indexes_existing_transcripts(
    runtime: Runtime, library: Library
) -> None:
    before = await find(runtime, "you", library.alice)

    def down_and_up(conn: sa.Connection) -> None:
        from alembic import command

        cfg = dbmod._alembic_config(conn)
        command.downgrade(cfg, "-1")  # this revision only
        command.upgrade(cfg, "head")

    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(down_and_up)
    after = await find(runtime, "you", library.alice)
    assert hits_of(after[0]) == hits_of(before[0])
    assert len(after[0]) == 2


async def test_hostile_queries_are_searched_or_refused_never_crash(
    runtime: Runtime, library: Library
) -> None:
    generated: list[str] = []

    @hypothesis.given(st.text(max_size=40) | st.lists(st.sampled_from(
        ['"', "*", "-", "OR", "AND", "NOT", "(", ")", ":", "'", "&", "|", "!", "<->", "ask", "not",
         "NEAR", "^", "\\", " ", "é", "\x00"]), max_size=8).map("".join))  # fmt: skip
    @hypothesis.settings(max_examples=120, derandomize=True, database=None, deadline=None)
    def collect(q: str) -> None:
        generated.append(q)

    collect()
    for q in HOSTILE + generated:
        try:
            await find(runtime, q, library.alice)
        except errors.InvalidOptionError as exc:  # refused, naming the query: a 422
            refused = exc.field
        else:
            refused = "q"
        assert refused == "q", q
    with pytest.raises(errors.InvalidOptionError, match="q: give at least one word"):
        await find(runtime, '" * -', library.alice)
    with pytest.raises(errors.InvalidOptionError, match="not only words to exclude"):
        await find(runtime, "-ask", library.alice)
    with pytest.raises(errors.InvalidOptionError, match="cursor"):
        await find(runtime, "ask", library.alice, cursor="garbage")
    with pytest.raises(errors.InvalidOptionError, match="stage"):
        await find(runtime, "ask", library.alice, stage="nope")
