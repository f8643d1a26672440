"""The job use cases the CLI and the API share, at the level of the service layer."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from trax.engine.options import TranscribeOptions
from trax.jobs import control
from trax.jobs.models import JobStatus
from trax.media import service as media_service
from trax.media.models import Media
from trax.runtime import Runtime
from trax.transcripts import service as transcripts
from trax.transcripts.tasks import run_transcribe
from trax.unit_of_work import JobRef, unit_of_work
from trax.users import service as users


class Outbox:
    """A broker that only records what it was asked to deliver (nothing runs)."""

    def __init__(self) -> None:
        self.sent: list[JobRef] = []

    def enqueue(self, jobs: Sequence[JobRef]) -> None:
        self.sent.extend(jobs)


@pytest.mark.anyio
async def test_a_job_on_stored_media_never_reads_a_path_on_the_worker(
    runtime: Runtime, media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker's working directory holds a file named like the upload.
    workdir = tmp_path / "worker-cwd"
    workdir.mkdir()
    shutil.copyfile(media / "jfk.flac", workdir / "jfk.flac")
    monkeypatch.chdir(workdir)
    outbox = Outbox()
    upload = tmp_path / "upload" / "jfk.flac"
    upload.parent.mkdir()
    shutil.copyfile(media / "jfk.flac", upload)
    async with unit_of_work(runtime.db, outbox) as uow:
        user = await users.create_user(uow.session, "ada@example.com")
        staged = await media_service.stage_received(runtime, upload)
        item = await media_service.ingest_received(uow.session, runtime.storage, staged, user.id,
                                                   None)  # fmt: skip
        job = await control.submit_media(uow, item, TranscribeOptions(model="tiny.en"), user.id)
    assert outbox.sent == [JobRef("transcribe", job.id)], "delivered after the commit"
    # The media vanishes between two attempts (its row is gone, the job's media_id is NULL).
    async with runtime.db.session() as s:
        await s.execute(sa.delete(Media).where(Media.id == item.id))
    done = await run_transcribe(runtime, outbox, job.id)
    assert done is not None
    assert (done.status, done.error_kind) == (JobStatus.FAILED, "media_deleted")
    async with runtime.db.session() as s:
        assert await transcripts.list_transcripts(s) == []


@pytest.mark.anyio
async def test_nothing_is_delivered_when_the_unit_of_work_rolls_back(
    runtime: Runtime, media: Path
) -> None:
    outbox = Outbox()

    async def submit_then_fail() -> None:
        async with unit_of_work(runtime.db, outbox) as uow:
            await control.submit_paths(uow, [media / "jfk.flac"], TranscribeOptions())
            raise RuntimeError("after submit")

    with pytest.raises(RuntimeError, match="after submit"):
        await submit_then_fail()
    assert outbox.sent == []
    async with unit_of_work(runtime.db, outbox) as uow:
        batch, reused = await control.submit_paths(uow, [media / "jfk.flac"] * 2,
                                                   TranscribeOptions())  # fmt: skip
    assert len({j.id for j in batch}) == 1
    assert reused == []
    assert outbox.sent == [JobRef("transcribe", batch[0].id)]
