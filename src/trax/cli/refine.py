"""``trax refine``: run a pipeline stage on a stored transcript, as a new version."""

from __future__ import annotations

from typing import Any

import click

from trax.cli.common import err_console, parse_options, run


@click.command()
@click.argument("transcript_id")
@click.option(
    "--stage", required=True, metavar="STAGE", help="The stage to run: multipass (v3) or diarized."
)
@click.option(
    "--from-version",
    "parent_version",
    type=int,
    help="The version to refine (default: the newest).",
)
@click.option("--model", help="Model the stage decodes with (default: the transcript's).")
@click.option(
    "--option",
    "raw_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A stage option, e.g. --option beam_size=10 (repeatable).",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="With TRAX_BROKER_URL: wait for the workers, or return once queued.",
)
def refine(
    transcript_id: str,
    stage: str,
    parent_version: int | None,
    model: str | None,
    raw_options: tuple[str, ...],
    wait: bool,
) -> None:
    """Add a stage to a stored transcript: its output becomes a new version (the same stage
    and options on the same version are reused, not run again).

    \b
    Examples:
      trax refine 3f2a --stage multipass
      trax refine 3f2a --stage multipass --from-version 1 --model small
    """
    options = parse_options(raw_options)
    if model is not None:
        options["model"] = model
    failed = run(lambda: _refine(transcript_id, stage, parent_version, options, wait))
    raise SystemExit(1 if failed else 0)


async def _refine(
    ref: str, stage: str, parent_version: int | None, options: dict[str, Any], wait: bool
) -> int:
    from trax.actors import job_runtime
    from trax.cli.running import follow
    from trax.config import get_settings
    from trax.jobs import control
    from trax.jobs.service import get
    from trax.transcripts import service as transcripts
    from trax.transcripts.stages import stage_request
    from trax.unit_of_work import unit_of_work

    settings = get_settings()
    request = stage_request(settings, stage, options, trusted=True)
    async with job_runtime(settings) as (rt, queue):
        async with unit_of_work(rt.db, queue) as uow:
            job = await control.submit_stages(uow, ref, [request], parent_version)
        failed = await follow(rt, queue, [job.id], "running", wait)
        async with rt.db.session() as s:
            job = await get(s, job.id)
            if job.transcript_version is None:
                return failed
            summary = await transcripts.version_summary(
                s, job.transcript_id or "", job.transcript_version
            )
    reused = "reused" if job.stage == "cached" else "made"
    err_console.print(
        f"{reused} v{summary.version} ({summary.stage}, from v{summary.parent_version}) of "
        f"transcript {job.transcript_id}",
        highlight=False,
    )
    return failed
