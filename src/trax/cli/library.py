"""Reading the library: list, show, export, models, jobs, and database upkeep."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trax.cli.common import console, echo_json, err_console, format_list, run

if TYPE_CHECKING:
    from trax.captions.formats import CaptionStyle
    from trax.engine.result import TranscriptDocument

EXPORT_FORMATS = ("srt", "vtt", "txt", "json", "rttm")
EXPORT_ONE_TARGET = "give --output or --output-dir, not both"
EXPORT_SEVERAL_FORMATS = "several formats need --output-dir (--output and stdout take one format)"


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
def list_command(as_json: bool, limit: int) -> None:
    """List stored transcripts, newest first."""

    async def body() -> None:
        from pydantic import TypeAdapter
        from rich import box

        from trax.cli.tables import fitted_table
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.transcripts import service
        from trax.transcripts.schemas import TranscriptSummary

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            items = await service.list_transcripts(s, limit)
        if as_json:
            adapter = TypeAdapter(list[TranscriptSummary])
            echo_json(adapter.dump_json(items, indent=2).decode())
            return
        table = fitted_table(box.SIMPLE_HEAD)
        for col in ("id", "created"):
            table.add_column(col, no_wrap=True)
        table.add_column("file", overflow="ellipsis", no_wrap=True, width=14, ratio=2)
        for col in ("lang", "dur", "model", "v"):
            table.add_column(col, overflow="ellipsis", no_wrap=True, max_width=10)
        table.add_column("text", overflow="ellipsis", no_wrap=True, width=8, ratio=3)
        for t in items:
            created = t.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            table.add_row(
                t.id[:8],
                created,
                t.filename,
                t.language,
                f"{t.duration:.1f}s",
                t.model,
                str(t.version),
                t.preview,
            )
        console.print(table if items else "no transcripts yet: run `trax transcribe FILE`")

    run(body)


@click.command()
@click.argument("transcript_id")
@click.option("--version", "version", type=int, help="Version number (default: newest).")
@click.option("--versions", "list_versions", is_flag=True, help="List every version instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
def show(transcript_id: str, version: int | None, list_versions: bool, as_json: bool) -> None:
    """Show one transcript (any unique prefix of its id will do), or its versions."""
    if list_versions:
        run(lambda: _show_versions(transcript_id, as_json))
        return

    async def body() -> None:
        from trax.config import get_settings
        from trax.costs.service import transcript_total
        from trax.runtime import open_runtime
        from trax.transcripts import service

        settings = get_settings()
        async with open_runtime(settings) as rt, rt.db.session() as s:
            detail = await service.get_transcript(s, transcript_id, version)
            cost = await transcript_total(s, detail.id, settings.cpu_hour_usd)
        if as_json:
            echo_json(detail.model_dump_json(indent=2))
            return
        doc = detail.document
        console.print(
            f"[bold]{detail.filename}[/]  id {detail.id}  v{detail.version} ({detail.stage})\n"
            f"model {detail.model}  language {doc.language} ({doc.language_probability:.2f})  "
            f"duration {doc.duration:.1f}s  segments {len(doc.segments)}\n"
            f"cost ${cost.total_usd:.6f} for {cost.versions} version(s): compute "
            f"${cost.compute_usd:.6f} ({cost.cpu_seconds:.1f} CPU s), LLM ${cost.llm_usd:.6f} "
            f"({cost.prompt_tokens}/{cost.completion_tokens} tokens)",
            highlight=False,
        )
        _show_extras(doc)
        for seg in doc.segments:
            lang = f" [cyan]{seg.language}[/]" if seg.language else ""
            console.print(f"[dim][{seg.start:8.2f} → {seg.end:8.2f}][/]{lang} {seg.text.strip()}")

    run(body)


def _show_extras(doc: TranscriptDocument) -> None:
    """The enhanced stage's summary, chapters and keywords, and its drift guard's refusals."""
    from rich.markup import escape

    guard = doc.provenance.guard
    if guard is not None:
        console.print(
            f"enhanced {guard.rewritten} of {guard.chunks} chunk(s); {guard.kept_original} kept "
            "their original words (the rewrite drifted)",
            highlight=False,
        )
    extras = doc.extras
    if extras is None:
        return
    console.print(f"[bold]summary[/] {escape(extras.summary)}", highlight=False)
    for chapter in extras.chapters:
        console.print(f"[bold]chapter[/] [dim]{chapter.start:8.2f}[/] {escape(chapter.title)}")
    if extras.keywords:
        console.print(f"[bold]keywords[/] {escape(', '.join(extras.keywords))}", highlight=False)


async def _show_versions(transcript_id: str, as_json: bool) -> None:
    from pydantic import TypeAdapter
    from rich import box

    from trax.cli.tables import fitted_table
    from trax.config import get_settings
    from trax.runtime import open_runtime
    from trax.transcripts import service
    from trax.transcripts.schemas import VersionSummary

    async with open_runtime(get_settings()) as rt, rt.db.session() as s:
        items = await service.list_versions(s, transcript_id)
    if as_json:
        echo_json(TypeAdapter(list[VersionSummary]).dump_json(items, indent=2).decode())
        return
    table = fitted_table(box.SIMPLE_HEAD)
    for col in ("v", "stage", "from", "model", "lang", "words", "wall", "cpu", "cost", "created"):
        table.add_column(col, no_wrap=True, overflow="ellipsis")
    for v in items:
        table.add_row(
            str(v.version),
            v.stage,
            f"v{v.parent_version}" if v.parent_version else "",
            v.model,
            v.language,
            str(v.words or 0),
            f"{v.wall_seconds:.1f}s" if v.wall_seconds is not None else "",
            f"{v.cpu_seconds:.1f}s" if v.cpu_seconds is not None else "",
            f"${v.cost_usd:.4f}" if v.cost_usd is not None else "",
            v.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@click.command()
@click.argument("transcript_id")
@click.argument("a", type=int)
@click.argument("b", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def diff(transcript_id: str, a: int, b: int, as_json: bool) -> None:
    """Show the word-level changes from version A to version B of a transcript.

    \b
    Example:
      trax diff 3f2a 1 2
    """

    async def body() -> None:
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.transcripts import service

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            changes = await service.diff_versions(s, transcript_id, a, b)
        if as_json:
            echo_json(changes.model_dump_json(indent=2))
            return
        console.print(
            f"v{a} → v{b}: {len(changes.changes)} change(s); {changes.unchanged} of "
            f"{changes.words_a} words unchanged, {changes.words_b} words now",
            highlight=False,
        )
        for c in changes.changes:
            parts = [f"[dim][{c.start:8.2f} → {c.end:8.2f}][/]"]
            parts += [f"[red]- {escape(c.old)}[/]"] if c.old else []
            parts += [f"[green]+ {escape(c.new)}[/]"] if c.new else []
            parts += [f"[dim]({', '.join(c.reasons)})[/]"] if c.reasons else []
            console.print(" ".join(parts), highlight=False)

    from rich.markup import escape

    run(body)


@click.command()
@click.argument("transcript_id")
@click.option(
    "--format",
    "formats",
    default="srt",
    show_default=True,
    callback=format_list(EXPORT_FORMATS),
    help="Comma-separated formats; several need --output-dir.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (one format). Default: stdout.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per format here, named after the transcript's file.",
)
@click.option("--version", "version", type=int, help="Version number (default: newest).")
@click.option("--max-line-chars", type=int, help="Longest caption line, in characters.")
@click.option("--max-lines", type=int, help="Most lines in one caption.")
@click.option("--max-cue-seconds", type=float, help="Longest time a caption stays up.")
@click.option("--min-cue-seconds", type=float, help="Shortest time a caption stays up.")
@click.option("--pause-seconds", type=float, help="A pause this long starts a new caption.")
@click.option(
    "--speaker-labels/--no-speaker-labels",
    default=None,
    help="Label captions with their speaker (diarized transcripts; default: on).",
)
def export(
    transcript_id: str,
    formats: tuple[str, ...],
    output: Path | None,
    output_dir: Path | None,
    version: int | None,
    **layout: float | bool | None,
) -> None:
    """Export a transcript as SRT, VTT, TXT or JSON, to stdout, a file or a directory.

    Caption options left out keep the defaults the API uses.

    \b
    Examples:
      trax export 3f2a --format vtt --max-line-chars 32
      trax export 3f2a --format srt,vtt,txt --output-dir captions/
    """
    if output is not None and output_dir is not None:
        raise click.UsageError(EXPORT_ONE_TARGET)
    if len(formats) > 1 and output_dir is None:
        raise click.UsageError(EXPORT_SEVERAL_FORMATS)
    style = _caption_style({k: v for k, v in layout.items() if v is not None})

    async def body() -> None:
        from trax.captions.exports import write_exports, write_text
        from trax.captions.formats import ExportFormat, render
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.transcripts import service

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            detail = await service.get_transcript(s, transcript_id, version)
        chosen = [ExportFormat(f) for f in formats]
        if output_dir is not None:
            stem = Path(detail.filename).stem or "transcript"
            written = write_exports(detail.document, chosen, output_dir, stem, style)
        elif output is not None:
            written = [write_text(output, render(detail.document, chosen[0], style))]
        else:
            sys.stdout.write(render(detail.document, chosen[0], style))
            written = []
        for path in written:
            err_console.print(f"wrote {path}", highlight=False)

    run(body)


def _caption_style(given: dict[str, Any]) -> CaptionStyle:
    """The caption layout; limits are :class:`CaptionStyle`'s, broken ones a usage error."""
    from trax.captions.formats import CaptionStyle

    try:
        return CaptionStyle(**given)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(as_json: bool) -> None:
    """List the models available offline."""
    from trax.config import get_settings
    from trax.engine.models import offline_models

    found = offline_models(get_settings().model_cache_dir)
    if as_json:
        rows = [{"name": m.name, "source": m.source.value, "location": m.location} for m in found]
        echo_json(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table()
    for col in ("name", "source", "location"):
        table.add_column(col, overflow="fold")
    for m in found:
        table.add_row(m.name, m.source.value, m.location)
    console.print(table)
    console.print(
        "Other names (small, medium, distil-large-v3…) download from the hub on first use."
    )


@click.group()
def db() -> None:
    """Database upkeep."""


@db.command()
def upgrade() -> None:
    """Migrate the configured database to the newest schema."""

    async def body() -> None:
        from trax.config import get_settings
        from trax.runtime import open_runtime

        settings = get_settings()
        async with open_runtime(settings, migrate=True) as rt:
            url = rt.db.url.render_as_string(hide_password=True)
        console.print(f"database {url} is at the newest schema", highlight=False)

    run(body)
