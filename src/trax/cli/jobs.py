"""``trax jobs``: see every unit of work, and retry, cancel or resume them."""

from __future__ import annotations

from pathlib import Path

import click

from trax.cli.common import console, echo_json, err_console, run

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


@click.group("jobs", invoke_without_command=True)
@click.option("--status", type=click.Choice(JOB_STATUSES), help="Only jobs in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def jobs_group(ctx: click.Context, status: str | None, as_json: bool, limit: int) -> None:
    """List jobs, newest first, with their state and any error.

    \b
    Subcommands: retry, cancel, resume.
    """
    if ctx.invoked_subcommand is not None:
        return

    async def body() -> None:
        from pydantic import TypeAdapter
        from rich import box

        from trax.cli.tables import fitted_table
        from trax.config import get_settings
        from trax.jobs import service
        from trax.jobs.models import JobStatus
        from trax.jobs.schemas import JobView
        from trax.runtime import open_runtime

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            items = await service.list_jobs(s, JobStatus(status) if status else None, limit)
        if as_json:
            echo_json(TypeAdapter(list[JobView]).dump_json(items, indent=2).decode())
            return
        table = fitted_table(box.SIMPLE_HEAD)
        for col in ("id", "status", "progress", "tries"):
            table.add_column(col, no_wrap=True)
        table.add_column("source", overflow="ellipsis", no_wrap=True, width=12, ratio=2)
        table.add_column("transcript", no_wrap=True)
        table.add_column("error", overflow="ellipsis", no_wrap=True, width=10, ratio=3)
        for j in items:
            table.add_row(
                j.id[:8],
                j.status.value,
                f"{j.progress:.0%}",
                str(j.attempts),
                Path(j.source).name,
                (j.transcript_id or "")[:8],
                _reason(j.error_message, j.source),
            )
        console.print(table)

    run(body)


def _reason(message: str | None, source: str) -> str:
    """The error without the source path it starts with (the source column names the file)."""
    if message is None:
        return ""
    return message.removeprefix(f"{source}: ")


@jobs_group.command()
@click.argument("job_ids", nargs=-1)
@click.option("--failed", "all_failed", is_flag=True, help="Retry every failed job.")
@click.option("--wait/--no-wait", default=True, help="With a broker: wait for the workers.")
def retry(job_ids: tuple[str, ...], all_failed: bool, wait: bool) -> None:
    """Queue failed or cancelled jobs again (ids or unique prefixes)."""
    if bool(job_ids) == all_failed:
        raise click.UsageError("give job ids or --failed (not both)")

    async def body() -> int:
        from trax.actors import job_runtime
        from trax.cli.running import follow
        from trax.config import get_settings
        from trax.jobs import control
        from trax.unit_of_work import unit_of_work

        async with job_runtime(get_settings()) as (rt, queue):
            async with unit_of_work(rt.db, queue) as uow:
                retried = [j.id for j in await control.retry(uow, job_ids or None)]
            return await follow(rt, queue, retried, "retrying", wait)

    raise SystemExit(1 if run(body) else 0)


@jobs_group.command()
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """Cancel a queued or running job (a running one stops within seconds); its owner's
    webhooks get ``job.cancelled``, as when the owner cancels it over the API."""

    async def body() -> None:
        from trax.actors import build_queue
        from trax.config import get_settings
        from trax.jobs import control
        from trax.runtime import open_runtime
        from trax.unit_of_work import unit_of_work

        settings = get_settings()
        queue = build_queue(settings)
        async with open_runtime(settings) as rt, unit_of_work(rt.db, queue) as uow:
            job = await control.cancel(uow, job_id)
        err_console.print(f"cancelled {job.id}  {job.source}", highlight=False)

    run(body)


@jobs_group.command()
@click.option("--wait/--no-wait", default=True, help="With a broker: wait for the workers.")
def resume(wait: bool) -> None:
    """Finish every interrupted job: queued jobs no broker holds and jobs whose worker died."""

    async def body() -> int:
        from trax.actors import job_runtime
        from trax.cli.running import follow
        from trax.config import get_settings
        from trax.jobs.recovery import recover

        async with job_runtime(get_settings()) as (rt, queue):
            ids = await recover(rt, queue, grace_seconds=0)
            return await follow(rt, queue, ids, "resuming", wait)

    raise SystemExit(1 if run(body) else 0)
