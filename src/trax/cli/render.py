"""``trax render``: burn a transcript version's captions into its media, as a job."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio.to_thread
import click

from trax.cli.common import err_console, parse_options, run


@click.command()
@click.argument("transcript_id")
@click.option("--version", "version", type=int, help="The version to render (default: newest).")
@click.option(
    "--style",
    default="classic",
    show_default=True,
    metavar="classic|karaoke|boxed|social",
    help="The style preset.",
)
@click.option(
    "--option",
    "raw_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A style option over the preset, e.g. --option font_size=64 --option "
    "highlight_colour=#39ff14 (repeatable; see docs/api.md for the list).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the MP4 (default: <media name>.<style>.mp4 here).",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="With TRAX_BROKER_URL: wait for the workers, or return once queued.",
)
def render(
    transcript_id: str,
    version: int | None,
    style: str,
    raw_options: tuple[str, ...],
    output: Path | None,
    wait: bool,
) -> None:
    """Burn a transcript's captions into its video (audio gets a coloured frame). The render
    is stored with the transcript (the same version and style are reused) and written to
    --output.

    \b
    Examples:
      trax render 3f2a --style karaoke -o talk.mp4
      trax render 3f2a --version 1 --style boxed --option position=top
    """
    options = parse_options(raw_options)
    failed = run(lambda: _render(transcript_id, version, style, options, output, wait))
    raise SystemExit(1 if failed else 0)


async def _render(
    ref: str,
    version: int | None,
    style: str,
    options: dict[str, Any],
    output: Path | None,
    wait: bool,
) -> int:
    from trax.actors import job_runtime
    from trax.cli.running import follow
    from trax.config import get_settings
    from trax.jobs.service import get
    from trax.renders import service as renders
    from trax.transcripts.tasks import local_copy
    from trax.unit_of_work import unit_of_work

    settings = get_settings()
    async with job_runtime(settings) as (rt, queue):
        async with unit_of_work(rt.db, queue) as uow:
            job = await renders.submit_render(uow, ref, version, style, options)
        failed = await follow(rt, queue, [job.id], "rendering", wait)
        async with rt.db.session() as s:
            job = await get(s, job.id)
            if job.render_id is None or job.transcript_id is None:
                return failed
            made = await renders.get_render(s, job.transcript_id, job.render_id)
            detail_name = Path(job.source).stem or "render"
        target = output or Path(f"{detail_name}.{made.style}.mp4")
        async with local_copy(rt.storage, made.storage_key) as path:
            await anyio.to_thread.run_sync(shutil.copyfile, path, target)
    reused = "reused" if job.stage == "cached" else "made"
    err_console.print(
        f"{reused} render {made.id} of v{made.version} ({made.style}, {made.width}x{made.height},"
        f" {made.duration:.1f} s): {target}",
        highlight=False,
    )
    return failed
