"""``trax delete``: remove a transcript's media, every transcript of it, and the stored file."""

from __future__ import annotations

import click

from trax.cli.common import err_console, run


@click.command()
@click.argument("transcript_id")
def delete(transcript_id: str) -> None:
    """Delete a transcript (any unique id prefix, as `trax list` shows) together with its media,
    the media's other transcripts and the stored file (kept while another user's media has the
    same bytes). Unfinished jobs on the media fail with media_deleted. The same use case as
    DELETE /api/v1/media/{id}."""

    async def body() -> None:
        from trax.actors import build_queue
        from trax.config import get_settings
        from trax.media import service as media_service
        from trax.runtime import open_runtime
        from trax.transcripts import service as transcripts
        from trax.unit_of_work import unit_of_work

        settings = get_settings()
        queue = build_queue(settings)
        async with open_runtime(settings) as rt, unit_of_work(rt.db, queue) as uow:
            detail = await transcripts.get_transcript(uow.session, transcript_id)
            await media_service.delete_media(uow, rt.storage, detail.media_id, None)
        err_console.print(f"deleted {detail.id}  {detail.filename}", highlight=False)

    run(body)
