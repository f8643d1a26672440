"""Batch control in the embedded mode: cancel, retry, resume after kill -9, cache hits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from trax.actors import build_queue, job_runtime
from trax.cli import main
from trax.config import Settings
from trax.engine.options import TranscribeOptions
from trax.errors import ConflictError
from trax.jobs import batch
from trax.jobs import service as jobs
from trax.jobs.models import Job, JobStatus
from trax.runtime import Runtime
from trax.transcripts import service as transcripts

from ..conftest import copy_media

TINY = TranscribeOptions(model="tiny.en")


@pytest.mark.anyio
async def test_cancel_stops_a_running_job_and_keeps_nothing(
    settings: Settings, runtime: Runtime, derived: dict[str, Path]
) -> None:
    slow = settings.model_copy(update={"window_seconds": 60.0})
    async with job_runtime(slow) as (rt, queue):
        (job,) = await batch.submit(rt, queue, [derived["long"]], TINY)
        with anyio.fail_after(60):
            while (await _job(rt, job.id)).stage != "transcribing":
                await anyio.sleep(0.1)
        async with rt.db.session() as s:
            await jobs.cancel(s, job.id)
        with anyio.fail_after(120):
            (done,) = await batch.wait(rt, [job.id])
    assert done.status is JobStatus.CANCELLED
    assert done.transcript_id is None
    async with runtime.db.session() as s:
        assert await transcripts.list_transcripts(s) == []
        with pytest.raises(ConflictError, match="already cancelled"):
            await jobs.cancel(s, job.id)


async def _job(rt: Runtime, job_id: str) -> Job:
    async with rt.db.session() as s:
        return await jobs.get(s, job_id)


def trax(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_retry_failed_jobs_after_fixing_the_input(
    cli_env: Path, tmp_path: Path, media: Path
) -> None:
    missing = tmp_path / "later.flac"
    first = trax("transcribe", missing, "--model", "tiny.en", "--output-dir", tmp_path / "o")
    assert first.exit_code == 1  # type: ignore[attr-defined]
    copy_media(media / "jfk.flac", tmp_path, "later.flac")
    retried = trax("jobs", "retry", "--failed")
    assert retried.exit_code == 0, retried.output  # type: ignore[attr-defined]
    (job,) = json.loads(trax("jobs", "--json").stdout)  # type: ignore[attr-defined]
    assert job["status"] == "succeeded"
    assert job["attempts"] == 1
    assert job["error_message"] is None
    assert "nothing to retry" not in retried.stderr  # type: ignore[attr-defined]


def test_kill_9_of_the_cli_then_the_same_command_finishes_the_rest(
    cli_env: Path, tmp_path: Path, media: Path
) -> None:
    inputs = [media / n for n in ("hotwords.mp3", "jfk.flac", "sample.wav", "apollo11.mp3")]
    cmd = [
        sys.executable, "-c", "from trax.cli import main; main()", "transcribe", *map(str, inputs),
        "--model", "tiny.en", "--format", "srt", "--output-dir", str(tmp_path / "out"),
    ]  # fmt: skip
    # One job at a time: the batch is half done for a whole job's time, whatever the load.
    env = {**os.environ, "TRAX_WORKER_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = _jobs()
            if any(r["status"] == "succeeded" for r in rows) and any(
                r["status"] != "succeeded" for r in rows
            ):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the batch never got half way")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    interrupted = _jobs()
    assert any(r["status"] in ("queued", "running") for r in interrupted)

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)

    assert again.returncode == 0, again.stderr
    assert "4 succeeded, 0 failed" in again.stderr
    listed = json.loads(trax("list", "--json").stdout)  # type: ignore[attr-defined]
    assert sorted(t["filename"] for t in listed) == sorted(p.name for p in inputs), "no duplicates"
    rows = _jobs()
    assert all(r["status"] == "succeeded" for r in rows)
    resumed = {r["id"] for r in interrupted if r["status"] != "succeeded"}
    assert resumed <= {r["id"] for r in rows}, "interrupted jobs were resumed, not duplicated"
    assert len(rows) == len(inputs) + sum(r["status"] == "succeeded" for r in interrupted)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{p.stem}.srt" for p in inputs
    )


def _jobs() -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-c", "from trax.cli import main; main()", "jobs", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(out.stdout))


def test_resume_runs_what_a_dead_process_left(cli_env: Path, media: Path) -> None:
    async def leave_orphans() -> None:
        from trax.config import get_settings
        from trax.runtime import open_runtime

        settings = get_settings()
        async with open_runtime(settings) as rt:
            orphaned = build_queue(settings)  # jobs enqueued to a broker that then "dies"
            await batch.submit(rt, orphaned, [media / "jfk.flac", media / "hotwords.mp3"], TINY)

    anyio.run(leave_orphans)
    assert {r["status"] for r in _jobs()} == {"queued"}
    resumed = trax("jobs", "resume")
    assert resumed.exit_code == 0, resumed.output  # type: ignore[attr-defined]
    assert "resuming 2 job(s)" in resumed.stderr  # type: ignore[attr-defined]
    assert {r["status"] for r in _jobs()} == {"succeeded"}
    assert trax("jobs", "resume").stderr.startswith("resuming 0 job(s)")  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_transient_failures_are_retried_with_backoff_then_fail(
    settings: Settings, runtime: Runtime, media: Path
) -> None:
    # Broken storage (a file where the media directory should be) fails every attempt with an
    # error that is not the input's fault: retried with backoff, then failed with the reason.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "incoming").write_text("not a directory")
    twice = settings.model_copy(update={"job_max_attempts": 2})
    async with job_runtime(twice) as (rt, queue):
        (job,) = await batch.submit(rt, queue, [media / "jfk.flac"], TINY)
        started = time.monotonic()
        with anyio.fail_after(60):
            (done,) = await batch.wait(rt, [job.id])
    assert done.status is JobStatus.FAILED
    assert done.attempts == 2
    assert done.error_kind == "internal_error"
    assert "jfk.flac" in (done.error_message or "")
    assert time.monotonic() - started >= 1.0, "the retry waited for its backoff"
