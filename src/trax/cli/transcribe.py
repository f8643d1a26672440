"""``trax transcribe``: files and directories in, stored transcripts and export files out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trax.cli.common import err_console, format_list, run

if TYPE_CHECKING:
    from trax.captions.formats import ExportFormat
    from trax.config import Settings
    from trax.engine.options import TranscribeOptions
    from trax.jobs.models import Job
    from trax.runtime import Runtime

FORMATS = ("json", "txt", "srt", "vtt", "rttm")
DEFAULT_FORMATS = "json,txt,srt,vtt"


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", help="Size name (tiny.en, base, small…), model directory or hub id.")
@click.option("--language", help="Language code (en, de…); detected when omitted.")
@click.option(
    "--task",
    metavar="transcribe|translate",
    help="translate: English text from speech in any language (multilingual models).  "
    "[default: transcribe]",
)
@click.option("--beam-size", type=int, help="Beam search width; 1 is greedy and fastest.")
@click.option(
    "--vad/--no-vad",
    default=True,
    show_default=True,
    help="Skip what voice activity detection finds is not speech.",
)
@click.option("--prompt", "initial_prompt", help="Initial prompt: context, names, spelling.")
@click.option("--hotwords", help="Words or names to favour, e.g. a product name.")
@click.option(
    "--pipeline",
    metavar="v1|v2|v3|v4",
    help="Stages after the first transcription: v1 none, v3 multipass (re-decodes weak "
    "regions). Each stage is stored as a new version.  [default: v1]",
)
@click.option(
    "--format",
    "formats",
    default=DEFAULT_FORMATS,
    show_default=True,
    callback=format_list(FORMATS),
    help="Comma-separated export formats to write.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="current directory",
    help="Where export files are written, named after each input.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JSON summary: per input its status, job id, transcript id and error.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="With TRAX_BROKER_URL: wait for the workers and export, or return once queued.",
)
def transcribe(
    paths: tuple[Path, ...],
    model: str | None,
    language: str | None,
    formats: tuple[str, ...],
    output_dir: Path,
    report: Path | None,
    wait: bool,
    pipeline: str | None,
    **decoding: Any,
) -> None:
    """Transcribe media files and directories (searched recursively).

    Each input is stored with its transcript, and one file per format is written for it.
    Running the same command again resumes an interrupted batch; finished inputs come from the
    cache. Exit code 0 when every input succeeded, 1 when any failed.

    \b
    Examples:
      trax transcribe talk.mp4
      trax transcribe recordings/ --model tiny.en --format srt,vtt --output-dir captions/
      trax transcribe interview.mp3 --model base --task translate --hotwords Trax
      trax transcribe noisy-call.wav --pipeline v3
    """
    given = {k: v for k, v in decoding.items() if v is not None}
    failed = run(
        lambda: _transcribe(
            paths, model, language, given, formats, output_dir, report, wait, pipeline
        )
    )
    raise SystemExit(1 if failed else 0)


async def _transcribe(
    paths: tuple[Path, ...],
    model: str | None,
    language: str | None,
    decoding: dict[str, Any],
    formats: tuple[str, ...],
    output_dir: Path,
    report: Path | None,
    wait: bool,
    pipeline: str | None = None,
) -> int:
    import anyio.to_thread

    from trax.actors import job_runtime
    from trax.captions.formats import ExportFormat
    from trax.cli.running import run_or_enqueue, write_report
    from trax.config import get_settings
    from trax.jobs import batch
    from trax.media import sources
    from trax.transcripts.options import transcribe_options
    from trax.transcripts.stages import pipeline_stages

    settings = get_settings()
    options = transcribe_options(settings, trusted=True, model=model, language=language, **decoding)
    stages = pipeline_stages(settings, pipeline, trusted=True)
    await anyio.to_thread.run_sync(_check_model, settings, options)
    found = await anyio.to_thread.run_sync(sources.expand, paths)
    for skipped in found.skipped:
        err_console.print(
            f"skipped {skipped.path}: {skipped.reason}", highlight=False, soft_wrap=True
        )
    if found.skipped:
        err_console.print(f"skipped {len(found.skipped)} non-media file(s) in directories")
    if not found.inputs:
        err_console.print("[yellow]no media files found[/]")
        return 0
    async with job_runtime(settings) as (rt, queue):
        submitted = await batch.submit(rt, queue, found.inputs, options, stages)
        finished = await run_or_enqueue(rt, queue, submitted, wait)
        if finished is None:
            _print_queued(submitted)
            if report is not None:
                write_report(report, _report_rows(found.inputs, submitted, {}), found.skipped)
            return 0
        written = await _write_exports(rt, finished, [ExportFormat(f) for f in formats], output_dir)
    _summary(found.inputs, finished, written)
    if report is not None:
        write_report(report, _report_rows(found.inputs, finished, written), found.skipped)
    return sum(1 for j in finished if j.transcript_id is None)


def _check_model(settings: Settings, options: TranscribeOptions) -> None:
    """Fail before any work on a model that cannot be found (hub models are fetched once)."""
    from trax.engine.models import resolve
    from trax.transcripts.tasks import transcriber_for

    if settings.broker_url is None and not resolve(options.model, settings.model_cache_dir).offline:
        transcriber_for(settings).pipeline(options.model)  # downloads once, or says why not


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
            detail = await transcripts.get_transcript(s, job.transcript_id, job.transcript_version)
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


def _report_rows(
    inputs: list[Path], finished: list[Job], written: dict[str, list[Path]]
) -> list[dict[str, Any]]:
    return [
        {
            "input": str(path),
            "status": job.status.value,
            "cached": job.stage == "cached",
            "job_id": job.id,
            "transcript_id": job.transcript_id,
            "outputs": [str(p) for p in written.get(job.id, [])],
            "error": (
                {"kind": job.error_kind, "message": job.error_message}
                if job.error_message
                else None
            ),
        }
        for path, job in zip(inputs, finished, strict=True)
    ]


def _print_queued(submitted: list[Job]) -> None:
    for job in submitted:
        err_console.print(f"queued {job.id}  {job.source}", highlight=False)


def _summary(inputs: list[Path], finished: list[Job], exports: dict[str, list[Path]]) -> None:
    """A row per input, named as given (two inputs may share a file name, or a transcript)."""
    from rich.table import Table

    from trax.cli.running import print_outcome

    table = Table(title="Summary", show_lines=False)
    for col in ("input", "status", "transcript", "result"):
        table.add_column(col, overflow="fold")
    for path, job in zip(inputs, finished, strict=True):
        ok = job.transcript_id is not None
        if ok:
            status = "[green]cached[/]" if job.stage == "cached" else "[green]ok[/]"
            result = ", ".join(p.name for p in exports.get(job.id, []))
        else:
            status, result = f"[red]{job.status.value}[/]", job.error_message or ""
        table.add_row(str(path), status, (job.transcript_id or "")[:8], result)
    err_console.print(table)
    print_outcome(finished)
