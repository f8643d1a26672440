"""Storing and reading transcripts on SQLite and PostgreSQL, through the real job flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from trax import errors
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.jobs import batch
from trax.jobs import service as jobs
from trax.jobs.models import Job, JobStatus
from trax.queue import Queue
from trax.runtime import Runtime
from trax.transcripts import service

pytestmark = pytest.mark.anyio
TINY = TranscribeOptions(model="tiny.en")
Env = tuple[Runtime, Queue]


async def run_batch(env: Env, inputs: list[Path]) -> list[Job]:
    rt, queue = env
    submitted = await batch.submit(rt, queue, inputs, TINY)
    return await batch.wait(rt, [j.id for j in submitted])


async def test_a_file_becomes_a_stored_transcript_once(jobs_env: Env, media: Path) -> None:
    rt, _ = jobs_env
    (first,) = await run_batch(jobs_env, [media / "jfk.flac"])
    (again,) = await run_batch(jobs_env, [media / "jfk.flac"])
    assert first.status is JobStatus.SUCCEEDED
    assert first.transcript_id is not None
    assert again.transcript_id == first.transcript_id, "same media and recipe: reused"
    assert again.stage == "cached"
    async with rt.db.session() as s:
        listed = await service.list_transcripts(s)
        detail = await service.get_transcript(s, first.transcript_id[:6])
    assert [t.id for t in listed] == [first.transcript_id]
    assert detail.filename == "jfk.flac"
    assert (detail.version, detail.stage, detail.model) == (1, "basic", "tiny.en")
    assert isinstance(detail.document, TranscriptDocument)
    assert detail.document.text.lower().startswith("and so my fellow americans")
    (stored,) = (rt.settings.data_dir / "media").rglob("*.flac")
    assert stored.read_bytes() == (media / "jfk.flac").read_bytes(), "media kept in storage"


async def test_a_bad_input_fails_alone_with_its_reason(
    jobs_env: Env, media: Path, derived: dict[str, Path]
) -> None:
    rt, _ = jobs_env
    inputs = [derived["text"], media / "hotwords.mp3", derived["truncated"]]
    done = await run_batch(jobs_env, inputs)
    assert [j.status for j in done] == [JobStatus.FAILED, JobStatus.SUCCEEDED, JobStatus.FAILED]
    assert [j.attempts for j in done] == [1, 1, 1], "permanent errors are not retried"
    assert done[0].error_kind == "bad_media"
    assert done[0].error_message == f"{derived['text']}: {errors.NOT_MEDIA}"
    assert (done[2].error_message or "").startswith(f"{derived['truncated']}: corrupt")
    async with rt.db.session() as s:
        failed = await jobs.list_jobs(s, JobStatus.FAILED)
    assert {j.source for j in failed} == {str(derived["text"]), str(derived["truncated"])}


async def test_ids_resolve_by_unique_prefix_only(runtime: Runtime) -> None:
    async with runtime.db.session() as s:
        with pytest.raises(errors.NotFoundError, match="no transcript with id 'zz'"):
            await service.get_transcript(s, "zz")
        with pytest.raises(errors.NotFoundError):
            await service.get_transcript(s, "%")
