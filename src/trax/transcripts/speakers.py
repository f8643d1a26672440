"""Speakers of a diarized transcript: who talks how long, and renaming them.

A rename never changes a stored version: it stores a new version (stage ``speakers``) whose
parent is the renamed one and whose document carries the new name on every segment and word, so
exports, captions, search and later stages all see the name (ADR 0017). The same rename of the
same version is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.engine.result import TranscriptDocument
from trax.transcripts import service
from trax.transcripts.stages import StageRequest

SPEAKERS = "speakers"
MAX_NAME_CHARS = 64
NO_SPEAKERS = "version {version} has no speakers: run the diarized stage on it first"
UNKNOWN_SPEAKER = "no speaker {name!r} in version {version} (speakers: {names})"
BAD_NAME = "a speaker name is 1 to {limit} characters on one line"


@dataclass(frozen=True)
class SpeakerTime:
    """One speaker of a version and how long they talk (from word timings)."""

    name: str
    seconds: float
    words: int
    segments: int


@dataclass(frozen=True)
class Speakers:
    transcript_id: str
    version: int
    speakers: list[SpeakerTime]


def talk_time(document: TranscriptDocument) -> list[SpeakerTime]:
    """The speakers in order of first appearance with their talk time (words' durations; a
    segment without words counts whole)."""
    seconds: dict[str, float] = {}
    words: dict[str, int] = {}
    segments: dict[str, int] = {}
    for seg in document.segments:
        if seg.speaker is None:
            continue
        segments[seg.speaker] = segments.get(seg.speaker, 0) + 1
        spans = [(w.start, w.end, w.speaker or seg.speaker) for w in seg.words]
        for start, end, who in spans or [(seg.start, seg.end, seg.speaker)]:
            seconds[who] = seconds.get(who, 0.0) + max(end - start, 0.0)
            words[who] = words.get(who, 0) + (1 if spans else 0)
    return [
        SpeakerTime(name, round(seconds.get(name, 0.0), 2), words.get(name, 0), count)
        for name, count in segments.items()
    ]


async def list_speakers(
    session: AsyncSession, ref: str, version: int | None = None, owner_id: str | None = None
) -> Speakers:
    detail = await service.get_transcript(session, ref, version, owner_id)
    return Speakers(detail.id, detail.version, talk_time(detail.document))


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_CHARS or any(c in cleaned for c in "\r\n\t"):
        raise errors.InvalidOptionError("to", BAD_NAME.format(limit=MAX_NAME_CHARS))
    return cleaned


def renamed(document: TranscriptDocument, old: str, new: str) -> TranscriptDocument:
    """``document`` with speaker ``old`` called ``new`` on every segment and word."""

    def name(value: str | None) -> str | None:
        return new if value == old else value

    segments = tuple(
        seg.model_copy(
            update={
                "speaker": name(seg.speaker),
                "words": tuple(
                    w.model_copy(update={"speaker": name(w.speaker)}) for w in seg.words
                ),
            }
        )
        for seg in document.segments
    )
    provenance = document.provenance.by_hand(SPEAKERS, {"from": old, "to": new})
    return document.model_copy(update={"segments": segments, "provenance": provenance})


async def rename_speaker(
    session: AsyncSession,
    ref: str,
    old: str,
    new: str,
    version: int | None = None,
    owner_id: str | None = None,
) -> Speakers:
    """Store version N+1: ``version`` (default: the newest) with ``old`` renamed ``new``.
    Refused (:class:`~trax.errors.InvalidOptionError`) when the version has no speakers or no
    speaker ``old``, or ``new`` is not a one-line name of at most 64 characters. Renaming to
    another speaker's name merges the two."""
    detail = await service.get_transcript(session, ref, version, owner_id)
    present = [s.name for s in talk_time(detail.document)]
    if not present:
        raise errors.InvalidOptionError("version", NO_SPEAKERS.format(version=detail.version))
    new = _check_name(new)
    if old not in present:
        names = ", ".join(present)
        reason = UNKNOWN_SPEAKER.format(name=old[:80], version=detail.version, names=names)
        raise errors.InvalidOptionError("from", reason)
    request = StageRequest(SPEAKERS, {"from": old, "to": new})
    document = renamed(detail.document, old, new)
    row, _created = await service.save_stage(session, detail.id, detail.version, request, document)
    return Speakers(
        detail.id, row.version, talk_time(TranscriptDocument.model_validate(row.document))
    )
