"""Watching jobs from the CLI: live progress until they finish, and the batch report.

Imported only by commands that run jobs (it pulls in the queue and, through it, the engine).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from trax.captions.exports import write_text
from trax.cli.common import err_console
from trax.jobs import batch
from trax.jobs.models import Job, JobStatus
from trax.jobs.service import get_many
from trax.media.sources import Skipped
from trax.queue import Queue
from trax.runtime import Runtime

WAITING_FOR_WORKERS = "jobs are queued in {url}: run `trax worker` on one or more hosts"


async def watch(rt: Runtime, jobs: list[Job]) -> list[Job]:
    """Show each job's progress until all have finished; returns the finished rows."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}"),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        overall = bar.add_task(f"{len(jobs)} file(s)", total=len(jobs), stage="", eta="")
        tasks: dict[str, TaskID] = {
            j.id: bar.add_task(
                Path(j.source).name, total=1.0, stage="queued", eta="", visible=False
            )
            for j in jobs
        }
        etas = {j.id: Eta() for j in jobs}

        def show(current: list[Job]) -> None:
            now = time.monotonic()
            for job in current:
                stage = _stage(job)
                done = 1.0 if job.status.finished else job.progress
                visible = job.status is not JobStatus.QUEUED
                eta = etas[job.id]
                if job.status is JobStatus.RUNNING and job.stage == "transcribing":
                    eta.observe(job.progress, now)
                left = "" if job.status.finished else eta.text(now)
                bar.update(tasks[job.id], completed=done, stage=stage, eta=left, visible=visible)
            bar.update(overall, completed=sum(j.status.finished for j in current))

        return await batch.wait(rt, [j.id for j in jobs], show)


@dataclass
class Eta:
    """A job's time left, at the rate its progress has risen since it was first seen
    transcribing (model loading and probing do not count); counts down between updates, which
    come once per batch of speech decoded."""

    since: float | None = None  # when first seen transcribing
    start: float = 0.0  # its progress then
    rate: float = 0.0  # progress per second
    progress: float = 0.0
    at: float = 0.0  # when progress last rose

    def observe(self, progress: float, now: float) -> None:
        if self.since is None:
            self.since, self.start, self.progress, self.at = now, progress, progress, now
        elif progress > self.progress and now > self.since:
            self.rate = (progress - self.start) / (now - self.since)
            self.progress, self.at = progress, now

    def seconds(self, now: float) -> float | None:
        if self.rate <= 0:
            return None
        return max(0.0, (1.0 - self.progress) / self.rate - (now - self.at))

    def text(self, now: float) -> str:
        left = self.seconds(now)
        return "" if left is None else f"ETA {timedelta(seconds=round(left))}"


def _stage(job: Job) -> str:
    if job.status is JobStatus.SUCCEEDED:
        return "cached" if job.stage == "cached" else "done"
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return f"[red]{job.status.value}[/]"
    return job.stage or job.status.value


async def run_or_enqueue(
    rt: Runtime, queue: Queue, jobs: list[Job], wait: bool
) -> list[Job] | None:
    """Watch the jobs to the end, or (with a broker and ``wait`` off) return at once."""
    if not wait and not queue.embedded:
        url = queue.settings.broker_url or ""
        err_console.print(WAITING_FOR_WORKERS.format(url=url.split("@")[-1]), highlight=False)
        return None
    return await watch(rt, jobs)


async def follow(rt: Runtime, queue: Queue, job_ids: list[str], verb: str, wait: bool) -> int:
    """Say what is being done, then watch the (already enqueued) jobs; returns how many failed."""
    err_console.print(f"{verb} {len(job_ids)} job(s)")
    if not job_ids:
        return 0
    async with rt.db.session() as s:
        rows = await get_many(s, job_ids)
    finished = await run_or_enqueue(rt, queue, rows, wait)
    if finished is None:
        return 0
    return print_outcome(finished)


def print_outcome(finished: list[Job]) -> int:
    """Why each failed job failed, then the counts; returns how many failed."""
    failures = [j for j in finished if j.status is not JobStatus.SUCCEEDED]
    for job in failures:
        message = job.error_message or job.status.value
        err_console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    err_console.print(f"{len(finished) - len(failures)} succeeded, {len(failures)} failed")
    return len(failures)


def write_report(path: Path, rows: list[dict[str, Any]], skipped: list[Skipped]) -> None:
    """The batch report: every input's outcome, and the files skipped inside directories."""
    report = {
        "inputs": rows,
        "skipped": [{"input": str(s.path), "reason": s.reason} for s in skipped],
    }
    write_text(path, json.dumps(report, indent=2) + "\n")
