"""Render jobs run by the embedded workers: the time limit kills FFmpeg and fails the job, a
video of another length than its transcript fails at once (no retry) with the reason, and
``trax render`` writes the MP4 and refuses an unknown style with exit code 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from trax.actors import job_runtime
from trax.cli import main
from trax.config import Settings
from trax.engine.result import TranscriptDocument
from trax.jobs import batch
from trax.jobs.models import Job, JobStatus
from trax.media import service as media_service
from trax.media.service import Limits
from trax.renders import service as renders
from trax.runtime import Runtime
from trax.transcripts import service as transcripts
from trax.unit_of_work import unit_of_work

from .conftest import TINY


async def stored_transcript(rt: Runtime, path: Path, document: TranscriptDocument) -> str:
    """``path`` stored as the operator's media, with ``document`` (by the real model) as its
    transcript."""
    staged = await media_service.stage_file(rt.storage, path, Limits.of(rt.settings))
    async with rt.db.session() as s:
        media = await media_service.record(s, rt.storage, staged)
        transcript, _ = await transcripts.save_basic(s, media, TINY, document)
        return transcript.id


async def render(settings: Settings, path: Path, doc: TranscriptDocument, **style: object) -> Job:
    async with job_runtime(settings) as (rt, queue):
        transcript_id = await stored_transcript(rt, path, doc)
        async with unit_of_work(rt.db, queue) as uow:
            job = await renders.submit_render(uow, transcript_id, None, "classic", style)
        (done,) = await batch.wait(rt, [job.id])
        return done


@pytest.mark.anyio
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_render_over_the_time_limit_is_stopped_and_fails(
    settings: Settings,
    runtime: Runtime,
    talk: dict[str, Path],
    talk_transcript: TranscriptDocument,
) -> None:
    limited = settings.model_copy(update={"job_time_limit_seconds": 1.0})
    done = await render(limited, talk["audio"], talk_transcript, width=3840, height=2160)
    assert done.status is JobStatus.FAILED
    assert done.error_kind == "time_limit"
    assert "took longer than the 1 s job time limit" in (done.error_message or "")
    assert done.attempts == 1
    ours = psutil.Process(os.getpid()).children(recursive=True)
    assert not [p for p in ours if "ffmpeg" in p.name()]
    assert not list((settings.data_dir / "scratch").iterdir())
    assert not (settings.data_dir / "renders").exists()


@pytest.mark.anyio
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_video_of_another_length_fails_at_once_with_the_reason(
    settings: Settings,
    runtime: Runtime,
    talk: dict[str, Path],
    talk_transcript: TranscriptDocument,
) -> None:
    done = await render(settings, talk["short_video"], talk_transcript)
    assert done.status is JobStatus.FAILED
    assert done.error_kind == "duration_mismatch"
    assert done.attempts == 1  # permanent: not retried
    assert "the video is 5.0 s long but the transcript covers 13.5 s" in (done.error_message or "")


def test_trax_render_writes_the_mp4_and_refuses_an_unknown_style(
    cli_env: Path, talk: dict[str, Path], media: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    refused = runner.invoke(main, ["render", "anything", "--style", "neon"])
    assert refused.exit_code == 2
    assert "style: unknown style 'neon'" in refused.output
    made = runner.invoke(main, ["transcribe", str(talk["video"]), "--model", "tiny.en",
                                "--output-dir", str(tmp_path)])  # fmt: skip
    assert made.exit_code == 0, made.output
    listed = runner.invoke(main, ["list", "--json"])
    transcript_id = json.loads(listed.output)[0]["id"]
    out = tmp_path / "captioned.mp4"
    args = ["render", transcript_id, "--style", "boxed", "--option", "position=top", "-o", out]
    rendered = runner.invoke(main, [str(a) for a in args])
    assert rendered.exit_code == 0, rendered.output
    assert out.stat().st_size > 10_000
    assert "(boxed, 320x180, 13.5 s)" in rendered.output.replace("\n", " ")
