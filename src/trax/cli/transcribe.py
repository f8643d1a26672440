"""``trax transcribe``: files and directories in, stored transcripts and export files out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from trax.cli.common import console, err_console, run

if TYPE_CHECKING:
    from trax.captions.formats import ExportFormat
    from trax.jobs.models import Job
    from trax.runtime import Runtime

FORMATS = ("json", "txt", "srt", "vtt")


def _parse_formats(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise click.BadParameter(f"choose from {', '.join(FORMATS)} (got {value!r})")
    return chosen


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", help="Size name (tiny.en, base, small…), model directory or hub id.")
@click.option("--language", help="Language code (en, de…); detected when omitted.")
@click.option(
    "--format",
    "formats",
    default=",".join(FORMATS),
    show_default=True,
    callback=_parse_formats,
    help="Comma-separated export formats to write.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="current directory",
    help="Where export files are written, named after each input.",
)
def transcribe(
    paths: tuple[Path, ...],
    model: str | None,
    language: str | None,
    formats: tuple[str, ...],
    output_dir: Path,
) -> None:
    """Transcribe media files and directories (searched recursively).

    Each input is stored with its transcript, and one file per format is written for it.
    Exit code 0 when every input succeeded, 1 when any failed.

    \b
    Examples:
      trax transcribe talk.mp4
      trax transcribe recordings/ --model tiny.en --format srt,vtt --output-dir captions/
    """
    failed = run(lambda: _transcribe(paths, model, language, formats, output_dir))
    raise SystemExit(1 if failed else 0)


async def _transcribe(
    paths: tuple[Path, ...],
    model: str | None,
    language: str | None,
    formats: tuple[str, ...],
    output_dir: Path,
) -> int:
    import anyio.to_thread

    from trax.captions.formats import ExportFormat
    from trax.config import get_settings
    from trax.engine.asr import validate_options
    from trax.engine.options import TranscribeOptions
    from trax.jobs import batch
    from trax.media import sources
    from trax.runtime import open_runtime
    from trax.transcripts.tasks import transcriber_for

    settings = get_settings()
    options = TranscribeOptions(model=model or settings.default_model, language=language)
    validate_options(options)
    found = await anyio.to_thread.run_sync(sources.expand, paths)
    if found.skipped:
        err_console.print(f"skipped {len(found.skipped)} non-media file(s) in directories")
    if not found.inputs:
        err_console.print("[yellow]no media files found[/]")
        return 0
    async with open_runtime(settings) as rt:
        with console.status(f"loading model {options.model}…"):
            await anyio.to_thread.run_sync(transcriber_for(settings).pipeline, options.model)
        submitted = await batch.submit(rt, found.inputs, options)
        finished = await _run_with_progress(rt, submitted)
        exports = await _write_exports(rt, finished, [ExportFormat(f) for f in formats], output_dir)
    _summary(finished, exports)
    return sum(1 for j in finished if j.transcript_id is None)


async def _run_with_progress(rt: Runtime, submitted: list[Job]) -> list[Job]:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from trax.jobs import batch

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        overall = bar.add_task(f"{len(submitted)} file(s)", total=len(submitted), stage="")
        tasks = {
            j.id: bar.add_task(Path(j.source).name, total=1.0, stage="queued", visible=False)
            for j in submitted
        }

        def on_progress(job: Job, stage: str, fraction: float) -> None:
            if stage == batch.FINISHED:
                stage = "done" if job.transcript_id else "[red]failed[/]"
                bar.advance(overall)
            bar.update(tasks[job.id], completed=fraction, stage=stage, visible=True)

        return await batch.run_all(rt, submitted, on_progress)


async def _write_exports(
    rt: Runtime, finished: list[Job], formats: list[ExportFormat], output_dir: Path
) -> dict[str, list[Path]]:
    """Write every format for every successful job; returns the files per job id."""
    from trax.captions.exports import write_exports
    from trax.transcripts import service as transcripts

    written: dict[str, list[Path]] = {}
    stems: set[str] = set()
    for job in finished:
        if job.transcript_id is None:
            continue
        async with rt.db.session() as s:
            detail = await transcripts.get_transcript(s, job.transcript_id)
        stem = _unique_stem(Path(job.source).stem, stems)
        written[job.id] = write_exports(detail.document, formats, output_dir, stem)
    return written


def _unique_stem(stem: str, used: set[str]) -> str:
    """``talk``, then ``talk-2``… so that two inputs never overwrite each other's exports."""
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate)
    return candidate


def _summary(finished: list[Job], exports: dict[str, list[Path]]) -> None:
    from rich.table import Table

    table = Table(title="Summary", show_lines=False)
    for col in ("input", "status", "transcript", "result"):
        table.add_column(col, overflow="fold")
    for job in finished:
        ok = job.transcript_id is not None
        status = (
            ("[green]cached[/]" if job.stage == "cached" else "[green]ok[/]")
            if ok
            else "[red]failed[/]"
        )
        result = ", ".join(p.name for p in exports.get(job.id, [])) if ok else job.error_message
        table.add_row(Path(job.source).name, status, (job.transcript_id or "")[:8], result or "")
    err_console.print(table)
    failures = [j for j in finished if j.transcript_id is None]
    for job in failures:
        err_console.print(f"[red]error:[/] {job.error_message}", highlight=False, soft_wrap=True)
    ok_count = len(finished) - len(failures)
    err_console.print(f"{ok_count} succeeded, {len(failures)} failed")
