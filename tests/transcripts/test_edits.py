"""Corrections stored as versions (stage ``edited``) on SQLite and PostgreSQL: timings kept,
provenance recorded, searchable, refused with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from trax import errors
from trax.config import Settings
from trax.engine.options import TranscribeOptions
from trax.jobs import batch
from trax.pagination import PageRequest
from trax.queue import Queue
from trax.runtime import Runtime
from trax.search import service as search
from trax.transcripts import service
from trax.transcripts.edits import Edit, edit_transcript
from trax.transcripts.stages import stage_request

pytestmark = pytest.mark.anyio
Env = tuple[Runtime, Queue]


async def transcribed(env: Env, path: Path) -> str:
    rt, queue = env
    submitted = await batch.submit(rt, queue, [path], TranscribeOptions(model="tiny.en"))
    (job,) = await batch.wait(rt, [j.id for j in submitted])
    assert job.transcript_id is not None, job.error_message
    return job.transcript_id


async def test_edits_keep_the_timings_and_say_who_made_them(jobs_env: Env, media: Path) -> None:
    rt, _ = jobs_env
    tid = await transcribed(jobs_env, media / "jfk.flac")
    async with rt.db.session() as s:
        v1 = await service.get_transcript(s, tid)
        seg = v1.document.segments[0]
        word = next(i for i, w in enumerate(seg.words) if "Americans" in w.text)

        row = await edit_transcript(s, tid, Edit(0, "citizens", word), "ada@example.com")
        v2 = await service.get_transcript(s, tid, row.version)
        assert (v2.version, v2.stage) == (2, "edited")
        new_word, old_word = v2.document.segments[0].words[word], seg.words[word]
        assert new_word.text == " citizens"
        assert (new_word.start, new_word.end) == (old_word.start, old_word.end)
        assert "citizens" in v2.text
        assert "Americans" not in v2.text
        provenance = v2.document.provenance
        assert provenance.parent_version == 1
        assert provenance.options["by"] == "ada@example.com"
        assert str(provenance.options["at"]).startswith("20")

        # The same edit of the same version is stored once.
        again = await edit_transcript(s, tid, Edit(0, "citizens", word), "bo@example.com", 1)
        assert again.version == 2

        # A segment typed with as many words keeps every word's timing.
        same_count = " ".join(w.text.strip().upper() for w in seg.words)
        v3 = await service.get_transcript(
            s, tid, (await edit_transcript(s, tid, Edit(0, same_count), "ada@example.com")).version
        )
        timings = [(w.start, w.end) for w in v3.document.segments[0].words]
        assert timings == [(w.start, w.end) for w in seg.words]

        # Fewer words are spread over the segment's span, in order.
        v4 = await service.get_transcript(
            s, tid, (await edit_transcript(s, tid, Edit(0, "Hello there"), "ada@ex.com")).version
        )
        (first, second) = v4.document.segments[0].words
        assert (first.start, second.end) == (seg.start, seg.end)
        assert first.end == second.start
        assert v4.document.segments[0].text == " Hello there"

        diff = await service.diff_versions(s, tid, 1, 2)
        assert [(c.old, c.new) for c in diff.changes] == [(old_word.text.strip(), "citizens")]
        found, _ = await search.search(
            s, search.SearchRequest(q="hello"), PageRequest(10, None), None
        )
        assert [r.transcript_id for r in found] == [tid]
        await s.commit()


BAD_EDITS = [
    (Edit(99, "x"), "segment"),
    (Edit(0, "x", 999), "word"),
    (Edit(0, "   "), "text"),
    (Edit(0, "two\nlines", 0), "text"),
    (Edit(0, "x" * 101, 0), "text"),
]


async def test_bad_edits_are_refused_naming_the_field(jobs_env: Env, media: Path) -> None:
    rt, _ = jobs_env
    tid = await transcribed(jobs_env, media / "jfk.flac")
    async with rt.db.session() as s:
        for edit, field in BAD_EDITS:
            with pytest.raises(errors.InvalidOptionError) as refused:
                await edit_transcript(s, tid, edit, "ada@example.com")
            assert refused.value.field == field, edit
        assert [v.version for v in await service.list_versions(s, tid)] == [1]


def test_edited_is_a_manual_stage(settings: Settings) -> None:
    with pytest.raises(errors.InvalidOptionError, match="made by correcting the text"):
        stage_request(settings, "edited", trusted=True)
