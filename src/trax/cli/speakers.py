"""``trax speakers ID`` (who talks how long) and ``trax speakers ID rename OLD NEW``."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

import click

from trax.cli.common import console, echo_json, err_console, run

if TYPE_CHECKING:
    from trax.transcripts.speakers import Speakers


def _print(found: Speakers, as_json: bool) -> None:
    if as_json:
        echo_json(json.dumps(dataclasses.asdict(found), indent=2))
        return
    from rich import box

    from trax.cli.tables import fitted_table

    grid = fitted_table(box.SIMPLE)
    grid.add_column("speaker", overflow="ellipsis", ratio=1, min_width=10)
    for name in ("talk seconds", "words", "segments"):
        grid.add_column(name, no_wrap=True, justify="right")
    for s in found.speakers:
        grid.add_row(s.name, f"{s.seconds:.1f}", str(s.words), str(s.segments))
    console.print(grid)
    err_console.print(f"transcript {found.transcript_id} v{found.version}", highlight=False)


USAGE = 'expected nothing or: rename OLD NEW (e.g. rename "Speaker 1" "Ada")'


@click.command()
@click.argument("transcript_id")
@click.argument("action", nargs=-1)
@click.option("--version", type=click.IntRange(min=1), help="A stored version (default: newest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def speakers(
    transcript_id: str, action: tuple[str, ...], version: int | None, as_json: bool
) -> None:
    """List the speakers of a diarized transcript with their talk time, or rename one (stores
    a new version with the name on every segment and word).

    \b
    Examples:
      trax speakers 3f2a
      trax speakers 3f2a rename "Speaker 1" "Ada"
    """
    if action and (action[0] != "rename" or len(action) != 3):
        raise click.UsageError(USAGE)

    async def body() -> None:
        from trax.config import get_settings
        from trax.runtime import open_runtime
        from trax.transcripts.speakers import list_speakers, rename_speaker

        async with open_runtime(get_settings()) as rt, rt.db.session() as s:
            if action:
                found = await rename_speaker(s, transcript_id, action[1], action[2], version)
            else:
                found = await list_speakers(s, transcript_id, version)
        _print(found, as_json)

    run(body)
