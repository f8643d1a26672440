"""Corrections made by a person: a word or a segment typed anew, stored as a new version.

An edit never changes a stored version: like a speaker rename (ADR 0017) it stores version N+1
(stage ``edited``) whose parent is the edited version, with the person and the time in its
provenance. Timings are kept (ADR 0021):

- a **word** edit replaces that word's text and keeps its start and end;
- a **segment** edit keeps every word's timing when the number of words is unchanged (the usual
  correction: a misheard word or two); otherwise the new words are spread over the segment's
  span in proportion to their length, so the segment still starts and ends where it did.

Words typed by a person get probability 1.0: a later multipass stage does not flag them as
low-probability. The same edit of the same version is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.db import utcnow
from trax.engine.result import Segment, TranscriptDocument, Word
from trax.transcripts import service
from trax.transcripts.models import TranscriptVersion
from trax.transcripts.stages import EDITED, StageRequest

MAX_WORD_CHARS = 100
MAX_SEGMENT_CHARS = 2000
#: Probability given to a word a person typed.
TYPED = 1.0
NO_SEGMENT = "the version has no segment {segment} (it has {count})"
NO_WORD = "segment {segment} has no word {word} (it has {count})"
EMPTY_TEXT = "the corrected text is empty; type at least one word"
TOO_LONG = "at most {limit} characters"
NOT_ONE_LINE = "the corrected text must be on one line"


@dataclass(frozen=True)
class Edit:
    """Correct segment ``segment`` (its index in the version), or one word of it when ``word``
    is given, to read ``text``."""

    segment: int
    text: str
    word: int | None = None


def _checked_text(text: str, limit: int) -> str:
    cleaned = " ".join(text.split())
    if any(c in text for c in "\r\n"):
        raise errors.InvalidOptionError("text", NOT_ONE_LINE)
    if not cleaned:
        raise errors.InvalidOptionError("text", EMPTY_TEXT)
    if len(cleaned) > limit:
        raise errors.InvalidOptionError("text", TOO_LONG.format(limit=limit))
    return cleaned


def _edit_word(segment: Segment, index: int, text: str) -> Segment:
    if not 0 <= index < len(segment.words):
        reason = NO_WORD.format(segment=segment.id, word=index, count=len(segment.words))
        raise errors.InvalidOptionError("word", reason)
    words = list(segment.words)
    words[index] = words[index].model_copy(update={"text": " " + text, "probability": TYPED})
    return _with_words(segment, words)


def _edit_segment(segment: Segment, text: str) -> Segment:
    tokens = text.split()
    old = segment.words
    if len(tokens) == len(old):
        words = [
            w.model_copy(update={"text": " " + t, "probability": TYPED})
            for w, t in zip(old, tokens, strict=True)
        ]
        return _with_words(segment, words)
    return _with_words(segment, spread(tokens, segment.start, segment.end, segment.speaker))


def spread(tokens: list[str], start: float, end: float, speaker: str | None) -> list[Word]:
    """``tokens`` as words over ``[start, end]``, each lasting in proportion to its length."""
    total = sum(len(t) for t in tokens) or 1
    span = max(end - start, 0.0)
    words, at = [], start
    for i, token in enumerate(tokens):
        until = end if i == len(tokens) - 1 else at + span * len(token) / total
        words.append(
            Word(
                start=round(at, 3),
                end=round(until, 3),
                text=" " + token,
                probability=TYPED,
                speaker=speaker,
            )
        )
        at = until
    return words


def _with_words(segment: Segment, words: list[Word]) -> Segment:
    return segment.model_copy(
        update={"words": tuple(words), "text": "".join(w.text for w in words)}
    )


def edited(document: TranscriptDocument, edit: Edit, by: str, at: str) -> TranscriptDocument:
    """``document`` with ``edit`` applied, its provenance naming who edited it and when."""
    segments = list(document.segments)
    if not 0 <= edit.segment < len(segments):
        reason = NO_SEGMENT.format(segment=edit.segment, count=len(segments))
        raise errors.InvalidOptionError("segment", reason)
    target = segments[edit.segment]
    if edit.word is not None:
        segments[edit.segment] = _edit_word(
            target, edit.word, _checked_text(edit.text, MAX_WORD_CHARS)
        )
    else:
        segments[edit.segment] = _edit_segment(target, _checked_text(edit.text, MAX_SEGMENT_CHARS))
    provenance = document.provenance.by_hand(EDITED, {**_recipe(edit), "by": by, "at": at})
    return document.model_copy(update={"segments": tuple(segments), "provenance": provenance})


def _recipe(edit: Edit) -> dict[str, str | int | None]:
    return {"segment": edit.segment, "word": edit.word, "text": " ".join(edit.text.split())}


async def edit_transcript(
    session: AsyncSession,
    ref: str,
    edit: Edit,
    by: str,
    version: int | None = None,
    owner_id: str | None = None,
) -> TranscriptVersion:
    """Store version N+1: ``version`` (default: the newest) with ``edit`` applied, made by
    ``by`` (an email). Refused (:class:`~trax.errors.InvalidOptionError`, naming the field) for
    a missing segment or word, or empty, multi-line or overlong text."""
    detail = await service.get_transcript(session, ref, version, owner_id)
    document = edited(detail.document, edit, by, utcnow().isoformat())
    request = StageRequest(EDITED, dict(_recipe(edit)))
    row, _created = await service.save_stage(session, detail.id, detail.version, request, document)
    return row
