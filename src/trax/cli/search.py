"""``trax search``: the library searched, one row per matching segment."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from trax.cli.common import console, echo_json, run

if TYPE_CHECKING:
    from rich.text import Text

    from trax.search.schemas import SearchHit

NO_HITS = "no matches"
MORE = "more results: add --cursor {cursor}"


def clock(seconds: float) -> str:
    """``hh:mm:ss`` (seconds rounded down: the hit starts within that second)."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _snippet(hit: SearchHit) -> Text:
    from rich.text import Text

    text = Text(hit.text)
    for start, end in hit.highlights:
        text.stylize("bold reverse", start, end)
    return text


def _local(when: datetime | None) -> datetime | None:
    return when.astimezone() if when is not None else None  # naive: the local time zone


#: A query may start with ``-`` (``trax search -moon houston``): unknown options are words, and
#: ``-h`` is not help here.
_WORDS = {"ignore_unknown_options": True, "help_option_names": ["--help"]}


@click.command(context_settings=_WORDS)
@click.argument("words", nargs=-1, required=True)
@click.option("--project", help="Only media of this project (id or name).")
@click.option("--language", help="Only segments in this language (e.g. en).")
@click.option("--speaker", help="Only segments of this speaker.")
@click.option("--stage", help="Only transcripts whose newest version is this stage.")
@click.option("--since", type=click.DateTime(), help="Transcripts made at or after (local time).")
@click.option("--until", type=click.DateTime(), help="Transcripts made before (local time).")
@click.option("--limit", default=20, show_default=True, help="At most this many files (1-100).")
@click.option("--cursor", help="Continue after the page that printed this cursor.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's page) instead.")
def search(
    words: tuple[str, ...],
    project: str | None,
    language: str | None,
    speaker: str | None,
    stage: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Search every transcript's newest version: words (all must match), "exact phrase",
    prefix*, -exclude, a OR b. Case and accents do not matter.

    Prints file, time (hh:mm:ss), speaker and the segment with the matched words highlighted.
    """
    query = " ".join(words)

    async def body() -> None:
        from rich import box
        from rich.text import Text

        from trax.cli.tables import fitted_table
        from trax.config import get_settings
        from trax.pagination import Page, PageRequest
        from trax.runtime import open_runtime
        from trax.search import service
        from trax.search.schemas import SearchResult

        request = service.SearchRequest(
            query, project, language, speaker, stage, _local(since), _local(until)
        )
        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            items, next_cursor = await service.search(
                s, request, PageRequest(limit=limit, cursor=cursor), owner_id=None
            )
        if as_json:
            page = Page[SearchResult](items=items, next_cursor=next_cursor)
            echo_json(page.model_dump_json(indent=2))
            return
        if not items:
            console.print(NO_HITS)
            return
        table = fitted_table(box.SIMPLE_HEAD)
        table.add_column("file", overflow="ellipsis", no_wrap=True, width=12, ratio=1)
        table.add_column("time", no_wrap=True)
        table.add_column("speaker", overflow="ellipsis", no_wrap=True, max_width=12)
        table.add_column("text", overflow="fold", width=20, ratio=4)
        for result in items:
            for hit in result.hits:
                table.add_row(
                    Text(result.filename), clock(hit.start), Text(hit.speaker or ""), _snippet(hit)
                )
            if result.hit_count > len(result.hits):
                more = result.hit_count - len(result.hits)
                table.add_row("", "", "", f"[dim]… {more} more in this file[/dim]")
        console.print(table)
        if next_cursor:
            console.print(MORE.format(cursor=next_cursor), highlight=False, soft_wrap=True)

    run(body)
