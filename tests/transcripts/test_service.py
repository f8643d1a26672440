"""Storing and reading transcripts on SQLite and PostgreSQL, through the real job flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from trax import errors
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.jobs import batch
from trax.jobs import service as jobs
from trax.jobs.models import JobStatus
from trax.runtime import Runtime
from trax.transcripts import service

pytestmark = pytest.mark.anyio
TINY = TranscribeOptions(model="tiny.en")


async def test_a_file_becomes_a_stored_transcript_once(
    runtime: Runtime, media: Path, jfk_text: str
) -> None:
    first = await batch.run_all(runtime, await batch.submit(runtime, [media / "jfk.flac"], TINY))
    again = await batch.run_all(runtime, await batch.submit(runtime, [media / "jfk.flac"], TINY))
    assert first[0].status is JobStatus.SUCCEEDED
    assert again[0].transcript_id == first[0].transcript_id, "same media and recipe: reused"
    assert again[0].stage == "cached"
    async with runtime.db.session() as s:
        listed = await service.list_transcripts(s)
        detail = await service.get_transcript(s, first[0].transcript_id[:6])  # type: ignore[index]
    assert [t.id for t in listed] == [first[0].transcript_id]
    assert detail.filename == "jfk.flac"
    assert (detail.version, detail.stage, detail.model) == (1, "basic", "tiny.en")
    assert isinstance(detail.document, TranscriptDocument)
    assert detail.document.text.lower().startswith("and so my fellow americans")
    (stored,) = (runtime.settings.data_dir / "media").rglob("*.flac")
    assert stored.read_bytes() == (media / "jfk.flac").read_bytes(), "media kept in storage"


async def test_a_bad_input_fails_alone_with_its_reason(
    runtime: Runtime, media: Path, derived: dict[str, Path]
) -> None:
    inputs = [derived["text"], media / "hotwords.mp3", derived["truncated"]]
    done = await batch.run_all(runtime, await batch.submit(runtime, inputs, TINY))
    assert [j.status for j in done] == [JobStatus.FAILED, JobStatus.SUCCEEDED, JobStatus.FAILED]
    assert done[0].error_kind == "bad_media"
    assert done[0].error_message == f"{derived['text']}: {errors.NOT_MEDIA}"
    assert done[2].error_message.startswith(f"{derived['truncated']}: corrupt or truncated")  # type: ignore[union-attr]
    async with runtime.db.session() as s:
        failed = await jobs.list_jobs(s, JobStatus.FAILED)
    assert {j.source for j in failed} == {str(derived["text"]), str(derived["truncated"])}


async def test_ids_resolve_by_unique_prefix_only(runtime: Runtime) -> None:
    async with runtime.db.session() as s:
        with pytest.raises(errors.NotFoundError, match="no transcript with id 'zz'"):
            await service.get_transcript(s, "zz")
        with pytest.raises(errors.NotFoundError):
            await service.get_transcript(s, "%")
